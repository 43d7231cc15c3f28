// Click a figure to see it at full size (Escape, a click or the close button closes it).
// Many panels are too small to read at the page's width, more so on a phone; the full-size
// image is the one the build saved, so nothing is fetched from another host. The full-size
// <img> exists only while it is shown (an <img> without a source would be a broken image).
document.addEventListener("DOMContentLoaded", () => {
  const overlay = document.createElement("div");
  overlay.className = "bn-zoom";
  overlay.setAttribute("role", "dialog");
  overlay.setAttribute("aria-label", "Figure at full size");
  overlay.hidden = true;
  const close = document.createElement("button");
  close.type = "button";
  close.textContent = "× close";
  overlay.append(close);
  document.body.append(overlay);
  const hide = () => {
    overlay.hidden = true;
    overlay.querySelectorAll("img").forEach((el) => el.remove());
  };
  overlay.addEventListener("click", hide);
  document.addEventListener("keydown", (e) => { if (e.key === "Escape") hide(); });
  for (const img of document.querySelectorAll("figure img, .cell_output img")) {
    img.classList.add("bn-zoomable");
    img.title = "Click to see the figure at full size";
    img.addEventListener("click", () => {
      const big = document.createElement("img");
      big.src = img.currentSrc || img.src;
      big.alt = img.alt;
      overlay.append(big);
      overlay.hidden = false;
    });
  }
});
