// Calendar enhancements; every page works without them (each day and slot has a real "+" link).
document.addEventListener("DOMContentLoaded", () => {
  // A click on the empty part of a day cell or hour slot opens the new-event form for it.
  document.addEventListener("click", (event) => {
    const target = event.target;
    if (!(target instanceof Element) || target.closest("a, button, input, label, select, textarea")) return;
    const cell = target.closest("[data-add]");
    if (cell) window.location.assign(cell.getAttribute("data-add"));
  });

  const form = document.querySelector("form.event-form");
  if (!form) return;
  // All day: the times do not apply, so they are hidden (and left out of the tab order).
  const allDay = form.querySelector("input[name=all_day]");
  const times = form.querySelectorAll("[data-time]");
  const sync = () => times.forEach((el) => { el.hidden = allDay.checked; });
  if (allDay) { allDay.addEventListener("change", sync); sync(); }
  // An end before the new start follows it.
  const startDate = form.querySelector("input[name=start_date]");
  const endDate = form.querySelector("input[name=end_date]");
  if (startDate && endDate) {
    startDate.addEventListener("change", () => {
      if (!endDate.value || endDate.value < startDate.value) endDate.value = startDate.value;
    });
  }
  // A contact ticked among the search results joins the chosen ones (a new search replaces the results).
  const choices = form.querySelector("#contact-choices");
  const chosen = form.querySelector("#chosen-contacts");
  if (choices && chosen) {
    choices.addEventListener("change", (event) => {
      const box = event.target;
      if (!(box instanceof HTMLInputElement) || !box.checked) return;
      const none = chosen.querySelector("#no-contacts");
      if (none) none.remove();
      const label = box.closest("label");
      const small = label.querySelector("small");
      if (small) small.remove();
      chosen.appendChild(label);
      box.focus();
    });
  }
  // Enter in the contact search looks contacts up instead of saving the event.
  const search = form.querySelector("input[name=contact_q]");
  if (search) {
    search.addEventListener("keydown", (event) => {
      if (event.key === "Enter") { event.preventDefault(); search.dispatchEvent(new Event("search")); }
    });
  }
});
