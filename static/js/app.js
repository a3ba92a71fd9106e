// Small progressive enhancements; every page works without them.
document.addEventListener("DOMContentLoaded", () => {
  const toggle = document.querySelector(".menu-toggle");
  if (toggle) {
    toggle.addEventListener("click", () => {
      const header = toggle.closest(".app-header");
      const open = header.classList.toggle("menu-open");
      toggle.setAttribute("aria-expanded", String(open));
    });
  }
});

// Confirmation before a destructive or hard-to-reverse action: a form with data-confirm="what will
// happen" opens a modal <dialog> (focus moves into it, Escape cancels) and submits only when the
// person confirms. data-confirm-button names the confirming button. Delegated from the document,
// so forms that htmx swaps in are covered too.
document.addEventListener("submit", (event) => {
  const form = event.target;
  if (!(form instanceof HTMLFormElement) || !form.dataset.confirm || form.dataset.confirmed === "yes") {
    return;
  }
  event.preventDefault();
  const submitter = event.submitter;
  const dialog = document.createElement("dialog");
  dialog.className = "confirm-dialog";
  dialog.setAttribute("aria-labelledby", "confirm-dialog-text");
  const text = document.createElement("p");
  text.id = "confirm-dialog-text";
  text.textContent = form.dataset.confirm;
  const article = document.createElement("article");
  const actions = document.createElement("footer");
  actions.className = "confirm-actions";
  const cancel = document.createElement("button");
  cancel.type = "button";
  cancel.className = "secondary";
  cancel.textContent = "Cancel";
  const ok = document.createElement("button");
  ok.type = "button";
  ok.className = "danger";
  ok.textContent = form.dataset.confirmButton || "Confirm";
  actions.append(cancel, ok);
  article.append(text, actions);
  dialog.append(article);
  document.body.append(dialog);
  dialog.addEventListener("close", () => dialog.remove());
  cancel.addEventListener("click", () => dialog.close());
  ok.addEventListener("click", () => {
    form.dataset.confirmed = "yes";
    dialog.close();
    form.requestSubmit(submitter || undefined);
    delete form.dataset.confirmed;
  });
  dialog.showModal();
  cancel.focus();
});

// A dashboard panel whose request failed (a 5xx, the server unreachable) says so instead of
// "Loading…" for ever; reloading the page tries again.
function panelFailed(event) {
  const panel = event.detail && event.detail.elt;
  if (!(panel instanceof HTMLElement) || !panel.dataset.panel) {
    return;
  }
  const loading = panel.querySelector(".panel-loading");
  if (loading) {
    loading.removeAttribute("aria-busy");
    loading.setAttribute("role", "alert");
    loading.textContent = "This panel could not be loaded. Reload the page to try again.";
  }
}
document.addEventListener("htmx:responseError", panelFailed);
document.addEventListener("htmx:sendError", panelFailed);
