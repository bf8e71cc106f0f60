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

// The review queue's keyboard (templates/partials/review_help.html lists it): j/k move between
// drafts, a approves, e edits, r rejects (1-5 picks a reason), ? shows the help. On the list page
// the current card is marked "current"; in triage (#triage) there is one card and j/k follow the
// next/previous links, which htmx swaps in without a page load.
(() => {
  const cards = () => Array.from(document.querySelectorAll("section.review-card"));
  const triage = () => document.getElementById("triage");
  const current = () => document.querySelector("section.review-card.current") || cards()[0] || null;

  function focusCard(card) {
    if (!card) return;
    cards().forEach((c) => c.classList.toggle("current", c === card));
    card.scrollIntoView({ block: "nearest" });
    card.focus({ preventScroll: true });
  }

  function move(step) {
    const box = triage();
    if (box) {
      const link = box.querySelector(step > 0 ? "a[rel=next]" : "a[rel=prev]");
      if (link) link.click();
      return;
    }
    const open = cards().filter((c) => !c.classList.contains("decided"));
    const here = current();
    const all = cards();
    const from = all.indexOf(here);
    const target = step > 0
      ? all.slice(from + 1).find((c) => open.includes(c))
      : all.slice(0, Math.max(from, 0)).reverse().find((c) => open.includes(c));
    if (target) focusCard(target);
  }

  function click(card, selector) {
    const button = card && card.querySelector(selector);
    if (button) button.click();
  }

  function editing(el) {
    return el && (el.tagName === "INPUT" || el.tagName === "TEXTAREA" || el.tagName === "SELECT");
  }

  // A key pressed while htmx is swapping a card in waits for it: acting on a card htmx has not
  // wired yet would submit its form the old way (a page load) or act on the card just left.
  let busy = false;
  let queued = null;

  function act(key, card) {
    switch (key) {
      case "j": move(1); return true;
      case "k": move(-1); return true;
      case "a": click(card, "button[name=approve]"); return true;
      case "e": {
        const body = card && card.querySelector("textarea[name=body]");
        if (body) {
          body.focus();
          body.setSelectionRange(body.value.length, body.value.length);
        }
        return true;
      }
      case "r": {
        const reason = card && card.querySelector("input[name=reason]");
        if (reason) {
          card.classList.add("rejecting");
          reason.focus();
        }
        return true;
      }
      case "?": {
        const help = document.getElementById("review-help");
        if (help) help.hidden = !help.hidden;
        return true;
      }
      default: return false;
    }
  }

  document.addEventListener("keydown", (event) => {
    if (!cards().length && !triage()) return;
    const el = document.activeElement;
    const card = (el && el.closest && el.closest("section.review-card")) || current();
    if (event.key === "Escape") {
      const help = document.getElementById("review-help");
      if (help && !help.hidden) help.hidden = true;
      if (editing(el)) el.blur();
      if (card) focusCard(card);
      return;
    }
    if (editing(el)) {
      if (event.key === "Enter" && (event.ctrlKey || event.metaKey) && el.closest("form.draft-form")) {
        event.preventDefault();
        click(card, "button[name=approve]");
      } else if (el.name === "reason" && el.value === "" && /^[1-9]$/.test(event.key)) {
        const choice = card && card.querySelector(`button.reason-choice[data-n="${event.key}"]`);
        if (choice) {
          event.preventDefault();
          choice.click();
        }
      }
      return;
    }
    if (event.ctrlKey || event.metaKey || event.altKey || !"jkaer?".includes(event.key)) return;
    event.preventDefault();
    if (busy) {
      // Replayed once the card in flight has settled: moving always; a decision (a, e, r) only
      // on the card that was on screen when it was pressed, so a key pressed twice never
      // approves or rejects the next card unread.
      queued = { key: event.key, card: card ? card.dataset.key : null };
      return;
    }
    act(event.key, card);
  });

  document.body.addEventListener("htmx:beforeRequest", () => { busy = true; });
  const idle = () => {
    busy = false;
    if (queued) {
      const pressed = queued;
      queued = null;
      const target = current();
      if ("jk?".includes(pressed.key) || (target && target.dataset.key === pressed.card)) {
        act(pressed.key, target);
      }
    }
  };
  document.body.addEventListener("htmx:afterSettle", idle);
  document.body.addEventListener("htmx:responseError", idle);
  document.body.addEventListener("htmx:sendError", idle);
  document.body.addEventListener("htmx:timeout", idle);
  // a request that failed or was aborted settles nothing: keys must not stay swallowed
  document.body.addEventListener("htmx:afterRequest", (event) => {
    if (event.detail && event.detail.failed) idle();
  });
  document.body.addEventListener("htmx:timeout", idle);
  // an aborted or otherwise unsuccessful request settles nothing: keys must not stay swallowed


  // On the list page an outcome lands in the card: a decided card is marked and the next one
  // becomes current (approve and next, no page load). In triage htmx swapped the next card in.
  document.body.addEventListener("htmx:afterSwap", (event) => {
    const target = event.detail && event.detail.target;
    if (!target) return;
    if (target.id === "triage") {
      const card = target.querySelector("section.review-card");
      if (card) focusCard(card);
      return;
    }
    const card = target.closest && target.closest("section.review-card");
    if (card && target.querySelector(".flash.ok")) {
      card.classList.add("decided");
      card.classList.remove("current", "rejecting");
      const after = cards().slice(cards().indexOf(card) + 1).find((c) => !c.classList.contains("decided"));
      if (after) focusCard(after);
    }
  });

  document.addEventListener("DOMContentLoaded", () => {
    const first = cards()[0];
    if (first) first.classList.add("current");
  });
})();
