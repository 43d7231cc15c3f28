"""Dataset loaders without torchvision: MNIST, Fashion-MNIST (gzipped IDX) and CIFAR-10.

Every file is verified before use: IDX data by the sha256 of its decompressed bytes where that is
known (so a re-compressed copy of the official file verifies too), else by the official download's
md5; CIFAR-10 archives by their checksums. Archives are read member by member in memory; no path
from an archive is ever extracted, and nothing is unpickled. Directory layout under the data
directory (explicit argument > $BNOPT_DATA_DIR > `data/`):

    mnist/{train,t10k}-{images-idx3,labels-idx1}-ubyte.gz
    fashion-mnist/{train,t10k}-{images-idx3,labels-idx1}-ubyte.gz
    cifar-10/cifar-10-binary.tar.gz          (official binary version, preferred)
    cifar-10-jpeg/cifar-10-jpeg.tar.gz       (lossy JPEG copy, its own dataset variant)
"""

from __future__ import annotations

import functools
import gzip
import hashlib
import io
import json
import os
import re
import shutil
import tarfile
import tempfile
import urllib.error
import urllib.request
import zlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

import numpy as np
import torch

from . import paths

DATASETS = ("mnist", "fashion-mnist", "cifar10")
VARIANTS = {"mnist": ("mnist",), "fashion-mnist": ("fashion-mnist",),
            "cifar10": ("cifar10", "cifar10-jpeg")}
SPLITS = ("train", "test")
CIFAR10_CLASSES = ("airplane", "automobile", "bird", "cat", "deer",
                   "dog", "frog", "horse", "ship", "truck")


class DataNotFoundError(FileNotFoundError):
    """A dataset's files are absent and could not be downloaded."""


class DataRootMissingError(DataNotFoundError):
    """The data folder itself does not exist (a mistyped path, most likely)."""


class DataCorruptError(ValueError):
    """A dataset file is present but fails its checksum or format check."""


@dataclass(frozen=True)
class FileSpec:
    """One file of a dataset, its official sources and its known checksums."""

    name: str
    urls: tuple[str, ...]
    raw_sha256: str | None = None  # sha256 of the decompressed bytes (IDX)
    file_md5: str | None = None  # md5 of the file as officially distributed
    file_sha256: str | None = None  # sha256 of the file as stored


_MNIST_URLS = ("http://yann.lecun.com/exdb/mnist/", "https://ossci-datasets.s3.amazonaws.com/mnist/")
_FASHION_URLS = ("http://fashion-mnist.s3-website.eu-central-1.amazonaws.com/",)

IDX_FILES: dict[str, dict[str, tuple[FileSpec, FileSpec]]] = {
    "mnist": {
        "train": (FileSpec("train-images-idx3-ubyte.gz", _MNIST_URLS,
                           raw_sha256="ba891046e6505d7aadcbbe25680a0738ad16aec93bde7f9b65e87a2fc25776db"),
                  FileSpec("train-labels-idx1-ubyte.gz", _MNIST_URLS,
                           raw_sha256="65a50cbbf4e906d70832878ad85ccda5333a97f0f4c3dd2ef09a8a9eef7101c5")),
        "test": (FileSpec("t10k-images-idx3-ubyte.gz", _MNIST_URLS,
                          raw_sha256="0fa7898d509279e482958e8ce81c8e77db3f2f8254e26661ceb7762c4d494ce7"),
                 FileSpec("t10k-labels-idx1-ubyte.gz", _MNIST_URLS,
                          raw_sha256="ff7bcfd416de33731a308c3f266cc351222c34898ecbeaf847f06e48f7ec33f2")),
    },
    # Only the md5 of the official downloads is published for Fashion-MNIST, so a re-compressed
    # copy does not verify; the decompressed hash is recorded in provenance once a file verified.
    "fashion-mnist": {
        "train": (FileSpec("train-images-idx3-ubyte.gz", _FASHION_URLS,
                           file_md5="8d4fb7e6c68d591d4c3dfef9ec88bf0d"),
                  FileSpec("train-labels-idx1-ubyte.gz", _FASHION_URLS,
                           file_md5="25c81989df183df01b3e8a0aad5dffbe")),
        "test": (FileSpec("t10k-images-idx3-ubyte.gz", _FASHION_URLS,
                          file_md5="bef4ecab320f06d8554ea6380940ec79"),
                 FileSpec("t10k-labels-idx1-ubyte.gz", _FASHION_URLS,
                          file_md5="bb300cfdad3c16e7a12a480ee83cd310")),
    },
}
IDX_SUBDIR = {"mnist": "mnist", "fashion-mnist": "fashion-mnist"}

CIFAR10_BINARY = FileSpec("cifar-10-binary.tar.gz", ("https://www.cs.toronto.edu/~kriz/",),
                          file_md5="c32a1d4ab5d03f1284b67883e8d87530")
CIFAR10_JPEG = FileSpec("cifar-10-jpeg.tar.gz", (),
                        file_sha256="45b041e867f5a40f79bfde38d3dd1fd511103d50068c1afecf6445e25234d4db")
CIFAR_SUBDIR = {"cifar10": "cifar-10", "cifar10-jpeg": "cifar-10-jpeg"}
_CIFAR_BIN_MEMBERS = {"train": [f"data_batch_{i}.bin" for i in range(1, 6)], "test": ["test_batch.bin"]}
_CIFAR_RECORD = 1 + 3 * 32 * 32


@dataclass(frozen=True)
class Dataset:
    """Images as float32 (N, C, H, W) (in [0, 1] as loaded), integer labels, and where they came from."""

    x: torch.Tensor
    y: torch.Tensor
    variant: str
    split: str
    provenance: dict[str, str] = field(default_factory=dict)

    def __len__(self) -> int:
        return int(self.y.shape[0])

    def subset(self, n: int | None, seed: int = 0) -> "Dataset":
        """A fixed random subset of n examples (all of them when n is None or too large)."""
        if n is None or n >= len(self):
            return self
        if n <= 0:
            raise ValueError(f"subset size must be positive, got {n}")
        idx = torch.randperm(len(self), generator=torch.Generator().manual_seed(seed))[:n]
        return Dataset(self.x[idx], self.y[idx], self.variant, self.split,
                       {**self.provenance, "subset": f"{n} of {len(self)} (seed {seed})"})


# ---------------------------------------------------------------- hashing and download

def _digest(data: bytes | Path, algo: str) -> str:
    """Hex digest of bytes or of a file's content."""
    h = hashlib.new(algo)
    if isinstance(data, Path):
        with data.open("rb") as fh:
            for block in iter(lambda: fh.read(1 << 20), b""):
                h.update(block)
    else:
        h.update(data)
    return h.hexdigest()


def _check_file_hash(path: Path, spec: FileSpec) -> None:
    """Raise DataCorruptError when the stored file's checksum is not the known one."""
    for algo, want in (("md5", spec.file_md5), ("sha256", spec.file_sha256)):
        if want is not None and _digest(path, algo) != want:
            raise DataCorruptError(
                f"{path} fails its {algo} check (expected {want}); the file is corrupt or not the "
                f"official one: delete it and provide a fresh copy")


def fetch_url(url: str, dest: Path, timeout: float = 20.0) -> None:
    """Download `url` to `dest` (via a temporary file in the same folder, which must exist)."""
    fd, tmp = tempfile.mkstemp(dir=dest.parent, prefix=f".{dest.name}.")
    try:
        with urllib.request.urlopen(url, timeout=timeout) as resp, os.fdopen(fd, "wb") as out:
            shutil.copyfileobj(resp, out)
        os.replace(tmp, dest)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)


def verify_file(path: Path, spec: FileSpec) -> None:
    """Raise DataCorruptError unless `path` matches every checksum `spec` knows."""
    _check_file_hash(path, spec)
    if spec.raw_sha256 is not None:
        _check_raw_hash(_read_gzip(path), path, spec)


def _check_raw_hash(raw: bytes, path: Path, spec: FileSpec) -> str:
    """sha256 of decompressed bytes, checked against `spec.raw_sha256` when that is known."""
    raw_sha = _digest(raw, "sha256")
    if spec.raw_sha256 is not None and raw_sha != spec.raw_sha256:
        raise DataCorruptError(f"{path}: decompressed content has sha256 {raw_sha}, expected "
                               f"{spec.raw_sha256}; the file is not the official data: replace it")
    return raw_sha


def _missing(paths_: list[Path], folder: Path, dataset: str, why: str = "") -> DataNotFoundError:
    """The error for absent files: every one missing, where we looked, how to provide them."""
    names = ", ".join(p.name for p in paths_)
    return DataNotFoundError(
        f"{dataset}: missing {names} in {folder}.{(' ' + why) if why else ''} Put the official files "
        f"there, or point the book at a folder holding a '{folder.name}/' subfolder with them: pass "
        f"data_dir=... or set {paths.DATA_ENV}=/path/to/data (see README, 'Data').")


def _install(staged: Path, target: Path) -> None:
    """Move a verified download into the data folder in one step (the folder is made only now)."""
    target.parent.mkdir(parents=True, exist_ok=True)
    partial = target.with_name(f".{target.name}.partial-{os.getpid()}")
    try:
        shutil.copyfile(staged, partial)
        os.replace(partial, target)
    finally:
        partial.unlink(missing_ok=True)


def _download_verified(spec: FileSpec, target: Path, fetch: Callable[[str, Path], None]) -> str:
    """Download `spec` outside the data folder, verify it, install it at `target`; '' or why it failed."""
    if not spec.urls:
        return f"{spec.name}: there is no public source to download it from"
    errors = []
    with tempfile.TemporaryDirectory(prefix="bnopt-download-") as tmp:
        staged = Path(tmp) / spec.name
        for base in spec.urls:
            try:
                fetch(base + spec.name, staged)
                verify_file(staged, spec)
            except (urllib.error.URLError, OSError, TimeoutError, DataCorruptError) as err:
                errors.append(f"{base + spec.name}: {err}")
                staged.unlink(missing_ok=True)
                continue
            _install(staged, target)
            return ""
    return "; ".join(errors)


def ensure_files(specs: list[FileSpec], folder: Path, dataset: str, download: bool,
                 fetch: Callable[[str, Path], None] = fetch_url) -> list[Path]:
    """Paths of `specs` in `folder`, downloading absent ones (verified before they land) when allowed.

    Nothing is written into `folder` but a download that passed its checksums; when files stay
    absent the error lists every one of them.
    """
    targets = [folder / s.name for s in specs]
    absent = [(s, t) for s, t in zip(specs, targets) if not t.is_file()]
    if absent and not download:
        raise _missing([t for _, t in absent], folder, dataset, "Downloading is off.")
    failed = [(t, why) for s, t in absent if (why := _download_verified(s, t, fetch))]
    if failed:
        raise _missing([t for t, _ in failed], folder, dataset,
                       "Download failed (" + "; ".join(why for _, why in failed) + ").")
    return targets


def check_data_root(root: Path) -> Path:
    """`root` if it is a folder, else DataRootMissingError naming it and where it came from."""
    if root.is_dir():
        return root
    source = (f"${paths.DATA_ENV}" if os.environ.get(paths.DATA_ENV) else "the data_dir argument or the default")
    raise DataRootMissingError(
        f"the data folder {root} (from {source}) does not exist; nothing is created there. Create it, or "
        f"set {paths.DATA_ENV} to the folder that holds mnist/, fashion-mnist/, cifar-10/ or "
        "cifar-10-jpeg/ (see README, 'Data').")


# ---------------------------------------------------------------- IDX (MNIST, Fashion-MNIST)

def _read_gzip(path: Path) -> bytes:
    """Decompressed content of a gzip file; a truncated or damaged file is DataCorruptError."""
    try:
        with gzip.open(path, "rb") as fh:
            return fh.read()
    except (OSError, EOFError, zlib.error) as err:
        raise DataCorruptError(f"{path} is not a readable gzip file ({err}); it is truncated or "
                               "damaged: delete it and provide a fresh copy") from err


def parse_idx(raw: bytes, source: str = "<bytes>") -> np.ndarray:
    """Parse IDX bytes (unsigned-byte data) into an array, checking the header against the size."""
    if len(raw) < 4 or raw[0] != 0 or raw[1] != 0 or raw[2] != 0x08:
        raise DataCorruptError(f"{source}: not an unsigned-byte IDX file (bad magic number)")
    ndim = raw[3]
    header = 4 + 4 * ndim
    if ndim == 0 or len(raw) < header:
        raise DataCorruptError(f"{source}: IDX header is truncated")
    shape = tuple(int.from_bytes(raw[4 + 4 * i: 8 + 4 * i], "big") for i in range(ndim))
    if len(raw) - header != int(np.prod(shape)):
        raise DataCorruptError(f"{source}: IDX header promises shape {shape} "
                               f"({int(np.prod(shape))} bytes) but holds {len(raw) - header}")
    return np.frombuffer(raw, dtype=np.uint8, offset=header).reshape(shape)


def _load_idx_file(path: Path, spec: FileSpec) -> tuple[np.ndarray, str]:
    """Verify one IDX file and return its array and the sha256 of its decompressed bytes."""
    if spec.raw_sha256 is None:
        _check_file_hash(path, spec)
    raw = _read_gzip(path)
    return parse_idx(raw, str(path)), _check_raw_hash(raw, path, spec)


def load_idx_dataset(name: str, split: str, folder: Path, download: bool = True) -> Dataset:
    """MNIST or Fashion-MNIST from verified gzipped IDX files in `folder`."""
    img_spec, lab_spec = IDX_FILES[name][split]
    img_path, lab_path = ensure_files([img_spec, lab_spec], folder, name, download)
    images, img_sha = _load_idx_file(img_path, img_spec)
    labels, lab_sha = _load_idx_file(lab_path, lab_spec)
    if images.ndim != 3 or labels.ndim != 1 or images.shape[0] != labels.shape[0]:
        raise DataCorruptError(f"{name} {split}: images {images.shape} and labels {labels.shape} "
                               "do not match")
    x = torch.from_numpy(images.astype(np.float32) / 255.0).unsqueeze(1)
    y = torch.from_numpy(labels.astype(np.int64))
    prov = {"files": f"{img_path.name}, {lab_path.name}", "folder": str(folder),
            "sha256_decompressed": f"{img_sha[:16]}…, {lab_sha[:16]}…"}
    return Dataset(x, y, name, split, prov)


# ---------------------------------------------------------------- CIFAR-10

def _read_member(tar: tarfile.TarFile, member: tarfile.TarInfo) -> bytes:
    """Bytes of one regular archive member, read in memory."""
    fh = tar.extractfile(member)
    if fh is None:
        raise DataCorruptError(f"archive member {member.name} is not a regular file")
    return fh.read()


def load_cifar10_binary(split: str, path: Path) -> tuple[np.ndarray, np.ndarray]:
    """CIFAR-10 (official binary version) as uint8 (N, 32, 32, 3) and labels, from the verified archive."""
    _check_file_hash(path, CIFAR10_BINARY)
    wanted = _CIFAR_BIN_MEMBERS[split]
    chunks: dict[str, bytes] = {}
    try:
        with tarfile.open(path, "r:gz") as tar:
            for member in tar:
                base = member.name.rsplit("/", 1)[-1]
                if member.isfile() and base in wanted:
                    chunks[base] = _read_member(tar, member)
    except (tarfile.TarError, OSError, EOFError, zlib.error) as err:
        raise DataCorruptError(f"{path} is not a readable tar.gz archive ({err})") from err
    if sorted(chunks) != sorted(wanted):
        raise DataCorruptError(f"{path} lacks members {sorted(set(wanted) - set(chunks))}")
    blob = b"".join(chunks[m] for m in wanted)
    if len(blob) % _CIFAR_RECORD:
        raise DataCorruptError(f"{path}: batch files are not whole records of {_CIFAR_RECORD} bytes")
    rec = np.frombuffer(blob, dtype=np.uint8).reshape(-1, _CIFAR_RECORD)
    return rec[:, 1:].reshape(-1, 3, 32, 32).transpose(0, 2, 3, 1), rec[:, 0].astype(np.int64)


_JPEG_MEMBER = re.compile(r"(?:^|/)(train|test)/([a-z]+)/(\d+)\.jpe?g$")
_JPEG_COUNTS = {"train": 5000, "test": 1000}


def decode_cifar10_jpeg(path: Path, split: str) -> tuple[np.ndarray, np.ndarray]:
    """Decode the JPEG copy of CIFAR-10 (one split) from the archive, in class and file-name order."""
    from PIL import Image

    found: dict[tuple[int, int], np.ndarray] = {}
    try:
        with tarfile.open(path, "r:gz") as tar:
            for member in tar:
                match = _JPEG_MEMBER.search(member.name)
                if not (member.isfile() and match and match.group(1) == split):
                    continue
                if match.group(2) not in CIFAR10_CLASSES:
                    raise DataCorruptError(f"{path}: unknown class folder {match.group(2)!r}")
                with Image.open(io.BytesIO(_read_member(tar, member))) as img:
                    arr = np.asarray(img.convert("RGB"), dtype=np.uint8)
                if arr.shape != (32, 32, 3):
                    raise DataCorruptError(f"{path}: {member.name} is {arr.shape}, expected 32x32 RGB")
                found[(CIFAR10_CLASSES.index(match.group(2)), int(match.group(3)))] = arr
    except (tarfile.TarError, OSError, EOFError, zlib.error) as err:
        raise DataCorruptError(f"{path} is not a readable tar.gz archive ({err})") from err
    per_class = np.bincount([c for c, _ in found], minlength=10)
    if not np.all(per_class == _JPEG_COUNTS[split]):
        raise DataCorruptError(f"{path}: {split} has {per_class.tolist()} images per class, "
                               f"expected {_JPEG_COUNTS[split]} each")
    keys = sorted(found)
    return np.stack([found[k] for k in keys]), np.array([c for c, _ in keys], dtype=np.int64)


def _cached_jpeg_split(path: Path, split: str) -> tuple[np.ndarray, np.ndarray]:
    """Decoded JPEG split from the cache (verified by its own checksum), decoding it once if needed."""
    tag = CIFAR10_JPEG.file_sha256[:12]
    cache = paths.cache_dir() / f"cifar10-jpeg-{tag}-{split}.npz"
    stamp = cache.with_suffix(".sha256")
    if cache.is_file() and stamp.is_file() and stamp.read_text().strip() == _digest(cache, "sha256"):
        with np.load(cache, allow_pickle=False) as npz:
            return npz["x"], npz["y"]
    x, y = decode_cifar10_jpeg(path, split)
    cache.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=cache.parent, prefix=f".{cache.name}.", suffix=".npz")
    os.close(fd)
    np.savez(tmp, x=x, y=y)
    stamp.write_text(_digest(Path(tmp), "sha256"))
    os.replace(tmp, cache)
    return x, y


def load_cifar10(split: str, root: Path, variant: str | None = None, download: bool = True) -> Dataset:
    """CIFAR-10: the official binary version when present (preferred), else the JPEG copy."""
    official = root / CIFAR_SUBDIR["cifar10"] / CIFAR10_BINARY.name
    jpeg = root / CIFAR_SUBDIR["cifar10-jpeg"] / CIFAR10_JPEG.name
    if variant is None:
        variant = "cifar10" if official.is_file() or not jpeg.is_file() else "cifar10-jpeg"
    if variant == "cifar10":
        try:
            (path,) = ensure_files([CIFAR10_BINARY], official.parent, "cifar10", download)
        except DataNotFoundError as err:
            if jpeg.is_file():
                raise
            raise DataNotFoundError(f"{err} (The lossy JPEG copy {jpeg} is absent too; either will do.)") from err
        images, labels = load_cifar10_binary(split, path)
        prov = {"files": path.name, "folder": str(path.parent), "md5": CIFAR10_BINARY.file_md5}
    elif variant == "cifar10-jpeg":
        (path,) = ensure_files([CIFAR10_JPEG], jpeg.parent, "cifar10-jpeg", download=False)
        _check_file_hash(path, CIFAR10_JPEG)
        images, labels = _cached_jpeg_split(path, split)
        prov = {"files": path.name, "folder": str(path.parent), "sha256": CIFAR10_JPEG.file_sha256,
                "note": "lossy JPEG copy of CIFAR-10 (quality about 75), not the official files"}
    else:
        raise ValueError(f"unknown CIFAR-10 variant {variant!r}; choose 'cifar10' or 'cifar10-jpeg'")
    x = torch.from_numpy(images.transpose(0, 3, 1, 2).astype(np.float32) / 255.0)
    return Dataset(x, torch.from_numpy(labels), variant, split, prov)


# ---------------------------------------------------------------- entry point

def load_dataset(name: str, split: str = "train", data_dir: str | os.PathLike[str] | None = None,
                 *, variant: str | None = None, download: bool = True) -> Dataset:
    """Load a verified dataset split: name in DATASETS, split in SPLITS."""
    if name not in DATASETS:
        raise ValueError(f"unknown dataset {name!r}; choose one of {', '.join(DATASETS)}")
    if split not in SPLITS:
        raise ValueError(f"unknown split {split!r}; choose one of {', '.join(SPLITS)}")
    root = check_data_root(paths.data_dir(data_dir))
    if name == "cifar10":
        return load_cifar10(split, root, variant, download)
    if variant not in (None, name):
        raise ValueError(f"{name} has no variant {variant!r}")
    return load_idx_dataset(name, split, root / IDX_SUBDIR[name], download)


@functools.lru_cache(maxsize=4)
def cifar10_subset(split: str, n: int | None, seed: int) -> Dataset:
    """A fixed random subset of CIFAR-10 (kept in memory for the runs of one session)."""
    return load_dataset("cifar10", split).subset(n, seed=seed)


def standardise(train: Dataset, *others: Dataset) -> tuple[Dataset, ...]:
    """`train` and `others` with each channel shifted and scaled by the mean and std of `train`'s images."""
    mean = train.x.mean((0, 2, 3), keepdim=True)
    std = train.x.std((0, 2, 3), keepdim=True)
    if not bool(torch.all(std > 0)):
        raise ValueError(f"cannot standardise {train.variant}/{train.split}: a channel is constant over its "
                         f"{len(train)} images (std {std.flatten().tolist()}); use more images or raw inputs")
    note = ("per channel by the training images' mean " + ", ".join(f"{v:.4f}" for v in mean.flatten().tolist())
            + " and std " + ", ".join(f"{v:.4f}" for v in std.flatten().tolist()))
    return tuple(Dataset((d.x - mean) / std, d.y, d.variant, d.split, {**d.provenance, "standardised": note})
                 for d in (train, *others))


def cifar10_task(train_size: int | None, test_size: int | None, seed: int,
                 standardise_inputs: bool) -> tuple[Dataset, Dataset | None]:
    """CIFAR-10 training and test subsets (test None if test_size is 0), optionally `standardise`d."""
    tr = cifar10_subset("train", train_size, seed)
    te = None if test_size == 0 else cifar10_subset("test", test_size, seed)
    if standardise_inputs:
        tr, *rest = standardise(tr, *([] if te is None else [te]))
        te = rest[0] if rest else None
    return tr, te


def dln_task(n: int = 1000, width: int = 10, seed: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    """[S]'s deep-linear-network task: x ~ N(0, I) in R^width, targets A x with A i.i.d. N(0, 1)."""
    gen = torch.Generator().manual_seed(seed)
    x = torch.randn(n, width, generator=gen)
    a = torch.randn(width, width, generator=gen)
    return x, x @ a.T


def available(name: str, data_dir: str | os.PathLike[str] | None = None) -> bool:
    """Whether a dataset's files are present locally (no download, no verification)."""
    root = paths.data_dir(data_dir)
    if name == "cifar10":
        return any((root / CIFAR_SUBDIR[v] / s.name).is_file()
                   for v, s in (("cifar10", CIFAR10_BINARY), ("cifar10-jpeg", CIFAR10_JPEG)))
    return all((root / IDX_SUBDIR[name] / s.name).is_file()
               for pair in IDX_FILES[name].values() for s in pair)


def missing_reason(name: str, data_dir: str | os.PathLike[str] | None = None) -> str:
    """'' when `name`'s files are present, else one sentence: not found, where, and how to provide them."""
    if available(name, data_dir):
        return ""
    root = paths.data_dir(data_dir)
    if name == "cifar10":
        wanted = (f"{CIFAR_SUBDIR['cifar10']}/{CIFAR10_BINARY.name} (or the JPEG copy "
                  f"{CIFAR_SUBDIR['cifar10-jpeg']}/{CIFAR10_JPEG.name})")
    else:
        wanted = ", ".join(f"{IDX_SUBDIR[name]}/{s.name}" for pair in IDX_FILES[name].values() for s in pair
                           if not (root / IDX_SUBDIR[name] / s.name).is_file())
    where = f"in {root}" if root.is_dir() else f"because the data folder {root} does not exist"
    return (f"data not found: {name} needs {wanted} {where}; put the files there or set {paths.DATA_ENV} "
            "(see README, 'Data').")


def describe(ds: Dataset) -> str:
    """One line naming the dataset variant, split and size, for pages and results."""
    note = " (lossy JPEG copy, not the official files)" if ds.variant == "cifar10-jpeg" else ""
    return f"{ds.variant}{note}, {ds.split} split, {len(ds)} examples"


def provenance_json(ds: Dataset) -> str:
    """Provenance of a dataset as a JSON string."""
    return json.dumps({"variant": ds.variant, "split": ds.split, **ds.provenance}, sort_keys=True)
