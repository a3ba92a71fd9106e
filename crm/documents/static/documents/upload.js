// Drag and drop onto the upload form: dropped files go into the form's own file input, so the
// form posts them exactly as if they had been chosen (the input works without this script).
document.addEventListener("DOMContentLoaded", () => {
  for (const form of document.querySelectorAll("form[data-dropzone]")) {
    const input = form.querySelector('input[type="file"]');
    const status = form.querySelector(".drop-status");
    if (!input) continue;
    const show = () => {
      if (!status) return;
      const names = Array.from(input.files).map((f) => f.name);
      status.textContent = names.length ? `${names.length} chosen: ${names.join(", ")}` : "";
      status.hidden = !names.length;
    };
    for (const name of ["dragenter", "dragover"]) {
      form.addEventListener(name, (event) => {
        event.preventDefault();
        form.classList.add("dragging");
      });
    }
    for (const name of ["dragleave", "drop"]) {
      form.addEventListener(name, () => form.classList.remove("dragging"));
    }
    form.addEventListener("drop", (event) => {
      event.preventDefault();
      if (event.dataTransfer && event.dataTransfer.files.length) {
        input.files = event.dataTransfer.files;
        show();
      }
    });
    input.addEventListener("change", show);
  }
});
