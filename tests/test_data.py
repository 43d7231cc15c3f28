"""Loaders on tiny files in the real formats: good, corrupt, truncated, missing; real data when present."""

from __future__ import annotations

import gzip
import hashlib
import io
import tarfile
import urllib.error
import urllib.request
from pathlib import Path

import numpy as np
import pytest

from bnopt import data


def idx_bytes(arr: np.ndarray) -> bytes:
    """Serialise a uint8 array in IDX format."""
    header = bytes([0, 0, 0x08, arr.ndim]) + b"".join(int(n).to_bytes(4, "big") for n in arr.shape)
    return header + arr.astype(np.uint8).tobytes()


def write_fake_mnist(folder: Path, n: int = 7, seed: int = 0) -> dict[str, str]:
    """Write tiny MNIST-format files; return the sha256 of each decompressed file by name."""
    rng = np.random.default_rng(seed)
    folder.mkdir(parents=True, exist_ok=True)
    hashes = {}
    for split, (img_spec, lab_spec) in data.IDX_FILES["mnist"].items():
        images = rng.integers(0, 256, size=(n, 28, 28), dtype=np.uint8)
        labels = rng.integers(0, 10, size=n, dtype=np.uint8)
        for spec, arr in ((img_spec, images), (lab_spec, labels)):
            raw = idx_bytes(arr)
            (folder / spec.name).write_bytes(gzip.compress(raw))
            hashes[spec.name] = hashlib.sha256(raw).hexdigest()
    return hashes


@pytest.fixture
def fake_mnist(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A data folder with tiny MNIST files whose hashes the loader is told to expect."""
    hashes = write_fake_mnist(tmp_path / "mnist")
    specs = {split: tuple(data.FileSpec(s.name, (), raw_sha256=hashes[s.name]) for s in pair)
             for split, pair in data.IDX_FILES["mnist"].items()}
    monkeypatch.setitem(data.IDX_FILES, "mnist", specs)
    return tmp_path


def test_parse_idx_roundtrip() -> None:
    arr = np.arange(24, dtype=np.uint8).reshape(2, 3, 4)
    assert np.array_equal(data.parse_idx(idx_bytes(arr)), arr)


def test_parse_idx_rejects_bad_magic_and_size() -> None:
    raw = idx_bytes(np.zeros((2, 3), np.uint8))
    with pytest.raises(data.DataCorruptError, match="magic"):
        data.parse_idx(b"\x01" + raw[1:])
    with pytest.raises(data.DataCorruptError, match="promises shape"):
        data.parse_idx(raw[:-1])


def test_good_files_load(fake_mnist: Path) -> None:
    ds = data.load_dataset("mnist", "train", fake_mnist, download=False)
    assert ds.x.shape == (7, 1, 28, 28) and ds.y.shape == (7,)
    assert 0.0 <= float(ds.x.min()) and float(ds.x.max()) <= 1.0
    assert ds.variant == "mnist" and "sha256_decompressed" in ds.provenance


def test_recompressed_copy_verifies(fake_mnist: Path) -> None:
    """The hash is of the decompressed bytes, so another compression of the same data verifies."""
    path = fake_mnist / "mnist" / "train-images-idx3-ubyte.gz"
    raw = gzip.decompress(path.read_bytes())
    path.write_bytes(gzip.compress(raw, compresslevel=1, mtime=12345))
    assert len(data.load_dataset("mnist", "train", fake_mnist, download=False)) == 7


def test_corrupt_content_is_rejected(fake_mnist: Path) -> None:
    path = fake_mnist / "mnist" / "train-labels-idx1-ubyte.gz"
    raw = bytearray(gzip.decompress(path.read_bytes()))
    raw[-1] ^= 0xFF
    path.write_bytes(gzip.compress(bytes(raw)))
    with pytest.raises(data.DataCorruptError, match="sha256"):
        data.load_dataset("mnist", "train", fake_mnist, download=False)


def test_truncated_file_is_rejected(fake_mnist: Path) -> None:
    path = fake_mnist / "mnist" / "t10k-images-idx3-ubyte.gz"
    path.write_bytes(path.read_bytes()[: len(path.read_bytes()) // 2])
    with pytest.raises(data.DataCorruptError, match="truncated or damaged"):
        data.load_dataset("mnist", "test", fake_mnist, download=False)


def test_missing_files_error_names_files_folder_and_fix(tmp_path: Path) -> None:
    with pytest.raises(data.DataNotFoundError) as info:
        data.load_dataset("fashion-mnist", "train", tmp_path, download=False)
    msg = str(info.value)
    assert "train-images-idx3-ubyte.gz" in msg and str(tmp_path / "fashion-mnist") in msg
    assert "BNOPT_DATA_DIR" in msg


def test_missing_dataset_lists_every_missing_file(tmp_path: Path) -> None:
    with pytest.raises(data.DataNotFoundError) as info:
        data.load_dataset("fashion-mnist", "test", tmp_path, download=False)
    assert "t10k-images-idx3-ubyte.gz, t10k-labels-idx1-ubyte.gz" in str(info.value)


def test_failed_download_writes_nothing_into_the_data_folder(tmp_path: Path,
                                                             monkeypatch: pytest.MonkeyPatch) -> None:
    def unreachable(*args: object, **kwargs: object) -> None:
        raise urllib.error.URLError("network unreachable")

    monkeypatch.setattr(urllib.request, "urlopen", unreachable)
    with pytest.raises(data.DataNotFoundError) as info:
        data.load_dataset("fashion-mnist", "train", tmp_path, download=True)
    msg = str(info.value)
    assert "train-images-idx3-ubyte.gz, train-labels-idx1-ubyte.gz" in msg and "network unreachable" in msg
    assert list(tmp_path.iterdir()) == []  # not even the dataset's folder


def test_a_download_that_fails_its_checksum_never_lands(tmp_path: Path) -> None:
    def wrong_bytes(url: str, dest: Path) -> None:
        dest.write_bytes(gzip.compress(b"not the official file"))

    specs = list(data.IDX_FILES["mnist"]["test"])
    with pytest.raises(data.DataNotFoundError, match="sha256"):
        data.ensure_files(specs, tmp_path / "mnist", "mnist", download=True, fetch=wrong_bytes)
    assert list(tmp_path.iterdir()) == []


def test_missing_data_root_is_its_own_error_and_is_not_created(tmp_path: Path,
                                                               monkeypatch: pytest.MonkeyPatch) -> None:
    typo = tmp_path / "dtaa"
    with pytest.raises(data.DataRootMissingError, match=f"data folder {typo} .*does not exist"):
        data.load_dataset("mnist", "train", typo)
    monkeypatch.setenv("BNOPT_DATA_DIR", str(typo))
    with pytest.raises(data.DataRootMissingError, match=r"from \$BNOPT_DATA_DIR"):
        data.load_dataset("cifar10", "train")
    assert not typo.exists()


def test_failed_download_is_a_clear_error(tmp_path: Path) -> None:
    def offline(url: str, dest: Path) -> None:
        raise OSError("network unreachable")

    specs = [data.FileSpec("x.gz", ("http://example.invalid/",))]
    with pytest.raises(data.DataNotFoundError, match="Download failed.*network unreachable"):
        data.ensure_files(specs, tmp_path, "mnist", download=True, fetch=offline)


def test_downloaded_file_is_verified_before_use(fake_mnist: Path, tmp_path: Path) -> None:
    """A download lands where the loader looks and still has to pass the checksum."""
    source = fake_mnist / "mnist"
    target = tmp_path / "fresh"

    def fetch(url: str, dest: Path) -> None:
        dest.parent.mkdir(parents=True, exist_ok=True)
        dest.write_bytes((source / url.rsplit("/", 1)[-1]).read_bytes())

    specs = [data.FileSpec(s.name, ("http://mirror.invalid/",)) for s in data.IDX_FILES["mnist"]["train"]]
    paths_ = data.ensure_files(specs, target / "mnist", "mnist", download=True, fetch=fetch)
    assert all(p.is_file() for p in paths_)
    assert len(data.load_dataset("mnist", "train", target, download=False)) == 7


def test_unknown_names_are_rejected(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="unknown dataset 'imagenet'"):
        data.load_dataset("imagenet", data_dir=tmp_path)
    with pytest.raises(ValueError, match="unknown split"):
        data.load_dataset("mnist", "val", data_dir=tmp_path)


# ---------------------------------------------------------------- CIFAR-10 formats

def make_cifar_binary(path: Path, n_train: int = 3, n_test: int = 2) -> None:
    """A tiny archive in the official CIFAR-10 binary layout."""
    rng = np.random.default_rng(1)
    with tarfile.open(path, "w:gz") as tar:
        for name in [f"data_batch_{i}.bin" for i in range(1, 6)] + ["test_batch.bin"]:
            n = n_test if name == "test_batch.bin" else n_train
            rec = rng.integers(0, 256, size=(n, 3073), dtype=np.uint8)
            rec[:, 0] = rng.integers(0, 10, size=n)
            blob = rec.tobytes()
            info = tarfile.TarInfo(f"cifar-10-batches-bin/{name}")
            info.size = len(blob)
            tar.addfile(info, io.BytesIO(blob))


def test_cifar_binary_reads_members_in_memory(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    folder = tmp_path / "cifar-10"
    folder.mkdir()
    archive = folder / data.CIFAR10_BINARY.name
    make_cifar_binary(archive)
    md5 = hashlib.md5(archive.read_bytes()).hexdigest()
    monkeypatch.setattr(data, "CIFAR10_BINARY", data.FileSpec(archive.name, (), file_md5=md5))
    ds = data.load_dataset("cifar10", "train", tmp_path, download=False)
    assert ds.variant == "cifar10" and ds.x.shape == (15, 3, 32, 32)
    assert sorted(p.name for p in tmp_path.rglob("*")) == ["cifar-10", archive.name]  # nothing extracted


def test_cifar_binary_wrong_checksum_is_rejected(tmp_path: Path) -> None:
    folder = tmp_path / "cifar-10"
    folder.mkdir()
    make_cifar_binary(folder / data.CIFAR10_BINARY.name)
    with pytest.raises(data.DataCorruptError, match="md5"):
        data.load_dataset("cifar10", "test", tmp_path, download=False)


def make_cifar_jpeg(path: Path, per_class: int) -> None:
    """A tiny archive in the layout of the JPEG copy: split/class/NNNN.jpg."""
    from PIL import Image

    rng = np.random.default_rng(2)
    with tarfile.open(path, "w:gz") as tar:
        for split in ("train", "test"):
            for cls in data.CIFAR10_CLASSES:
                for i in range(per_class):
                    buf = io.BytesIO()
                    Image.fromarray(rng.integers(0, 256, (32, 32, 3), dtype=np.uint8)).save(buf, "JPEG")
                    info = tarfile.TarInfo(f"{split}/{cls}/{i:04d}.jpg")
                    info.size = buf.tell()
                    buf.seek(0)
                    tar.addfile(info, buf)


def test_cifar_jpeg_variant_decodes_once_and_caches(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    folder = tmp_path / "cifar-10-jpeg"
    folder.mkdir()
    archive = folder / data.CIFAR10_JPEG.name
    make_cifar_jpeg(archive, per_class=2)
    sha = hashlib.sha256(archive.read_bytes()).hexdigest()
    monkeypatch.setattr(data, "CIFAR10_JPEG", data.FileSpec(archive.name, (), file_sha256=sha))
    monkeypatch.setattr(data, "_JPEG_COUNTS", {"train": 2, "test": 2})
    first = data.load_dataset("cifar10", "train", tmp_path)
    assert first.variant == "cifar10-jpeg" and first.x.shape == (20, 3, 32, 32)
    assert first.y.tolist() == [c for c in range(10) for _ in range(2)]

    def no_decode(*args: object) -> None:
        raise AssertionError("decoded again instead of using the cache")

    monkeypatch.setattr(data, "decode_cifar10_jpeg", no_decode)
    again = data.load_dataset("cifar10", "train", tmp_path)
    assert np.array_equal(again.x.numpy(), first.x.numpy())


def test_cifar_jpeg_incomplete_archive_is_rejected(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    folder = tmp_path / "cifar-10-jpeg"
    folder.mkdir()
    archive = folder / data.CIFAR10_JPEG.name
    make_cifar_jpeg(archive, per_class=1)
    sha = hashlib.sha256(archive.read_bytes()).hexdigest()
    monkeypatch.setattr(data, "CIFAR10_JPEG", data.FileSpec(archive.name, (), file_sha256=sha))
    with pytest.raises(data.DataCorruptError, match="images per class"):
        data.load_dataset("cifar10", "test", tmp_path)


def test_cifar_jpeg_checksum_mismatch_is_rejected(tmp_path: Path) -> None:
    folder = tmp_path / "cifar-10-jpeg"
    folder.mkdir()
    make_cifar_jpeg(folder / data.CIFAR10_JPEG.name, per_class=1)
    with pytest.raises(data.DataCorruptError, match="sha256"):
        data.load_dataset("cifar10", "test", tmp_path)


# ---------------------------------------------------------------- real data (skipped when absent)

def test_real_mnist_matches_published_figures(real_data_dir: Path) -> None:
    if not data.available("mnist", real_data_dir):
        pytest.skip(f"MNIST not found in {real_data_dir}")
    ds = data.load_dataset("mnist", "train", real_data_dir, download=False)
    assert len(ds) == 60000
    assert float(ds.x.mean()) == pytest.approx(0.1307, abs=1e-4)
    assert float(ds.x.std()) == pytest.approx(0.3081, abs=1e-4)
    assert ds.y.bincount().tolist()[:3] == [5923, 6742, 5958]


def test_subset_is_deterministic(fake_mnist: Path) -> None:
    ds = data.load_dataset("mnist", "train", fake_mnist, download=False)
    a, b = ds.subset(4, seed=3), ds.subset(4, seed=3)
    assert a.y.tolist() == b.y.tolist() and len(a) == 4
    with pytest.raises(ValueError):
        ds.subset(0)


def test_standardise_uses_the_training_images_statistics_for_every_split() -> None:
    import torch
    gen = torch.Generator().manual_seed(0)
    scale = torch.tensor([1.0, 3.0, 0.5]).view(1, 3, 1, 1)
    train = data.Dataset(torch.rand(50, 3, 4, 4, generator=gen) * scale + 2.0, torch.zeros(50), "v", "train")
    test = data.Dataset(torch.rand(20, 3, 4, 4, generator=gen), torch.zeros(20), "v", "test")
    a, b = data.standardise(train, test)
    flat = a.x.transpose(0, 1).reshape(3, -1).double()
    assert torch.allclose(flat.mean(1), torch.zeros(3, dtype=torch.float64), atol=1e-5)
    assert torch.allclose(flat.std(1), torch.ones(3, dtype=torch.float64), atol=1e-5)
    x64 = train.x.double().transpose(0, 1).reshape(3, -1)
    mean, std = x64.mean(1).view(1, 3, 1, 1), x64.std(1).view(1, 3, 1, 1)
    assert torch.allclose(b.x.double(), (test.x.double() - mean) / std, atol=1e-5)  # the test split: train's stats
    assert "standardised" in a.provenance and a.y is train.y and b.split == "test"


def test_standardise_rejects_a_constant_channel() -> None:
    import torch
    x = torch.rand(10, 3, 2, 2)
    x[:, 1] = 0.5
    with pytest.raises(ValueError, match="constant"):
        data.standardise(data.Dataset(x, torch.zeros(10), "v", "train"))


def test_cifar10_task_standardises_both_splits_by_the_training_images(monkeypatch: pytest.MonkeyPatch) -> None:
    import torch
    gen = torch.Generator().manual_seed(0)
    splits = {"train": data.Dataset(torch.rand(30, 3, 2, 2, generator=gen) * 4.0, torch.zeros(30), "v", "train"),
              "test": data.Dataset(torch.rand(10, 3, 2, 2, generator=gen), torch.zeros(10), "v", "test")}
    monkeypatch.setattr(data, "cifar10_subset", lambda split, n, seed: splits[split])
    raw_tr, raw_te = data.cifar10_task(30, 10, 0, standardise_inputs=False)
    assert raw_tr is splits["train"] and raw_te is splits["test"]
    tr, te = data.cifar10_task(30, 10, 0, standardise_inputs=True)
    ref_tr, ref_te = data.standardise(splits["train"], splits["test"])
    assert torch.equal(tr.x, ref_tr.x) and torch.equal(te.x, ref_te.x)
    only, none = data.cifar10_task(30, 0, 0, standardise_inputs=True)
    assert none is None and torch.equal(only.x, ref_tr.x)
