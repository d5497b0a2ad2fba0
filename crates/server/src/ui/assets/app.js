// Seatkeeper admin UI: small enhancements only. Every page works without this script.
"use strict";
document.addEventListener("DOMContentLoaded", () => {
  // "Select all on this page" in the users list.
  const all = document.getElementById("select-all");
  if (all) {
    const boxes = () => document.querySelectorAll('#users input[type=checkbox][name=login]');
    all.addEventListener("change", () => boxes().forEach((b) => { b.checked = all.checked; }));
  }
  // Filters apply as soon as a select changes.
  document.querySelectorAll("form.filters select").forEach((s) =>
    s.addEventListener("change", () => s.form.requestSubmit()));
  // A form submitted once is not submitted twice by an impatient second click.
  document.querySelectorAll("form[method=post]").forEach((f) =>
    f.addEventListener("submit", () => {
      setTimeout(() => f.querySelectorAll("button[type=submit]").forEach((b) => { b.disabled = true; }), 0);
    }));
});
