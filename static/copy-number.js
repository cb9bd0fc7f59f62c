// Copy buttons on the tracking page: the number stays selectable text without this script.
document.querySelectorAll("button[data-copy]").forEach((button) => {
  const target = document.getElementById(button.dataset.copy);
  if (!target || !navigator.clipboard) return;
  button.hidden = false;
  button.addEventListener("click", () => {
    navigator.clipboard.writeText(target.textContent.trim()).then(() => {
      button.textContent = button.dataset.done;
    });
  });
});
