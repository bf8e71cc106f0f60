// The console's only script besides htmx. Pages are served with a Content-Security-Policy that
// allows scripts from this origin only (no inline handlers), so behaviour is attached here.
document.addEventListener("input", (event) => {
  // An edit to a draft marks the form, so the approval is journaled as "edited then approved".
  const form = event.target.closest && event.target.closest("form.draft-form");
  const flag = form && form.querySelector(".edited-flag");
  if (flag) flag.value = "1";
});
document.addEventListener("submit", (event) => {
  // A destructive action asks first (erasure, logging out every session).
  const question = event.target.dataset && event.target.dataset.confirm;
  if (question && !window.confirm(question)) event.preventDefault();
}, true);
