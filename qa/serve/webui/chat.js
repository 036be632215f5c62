() => {
  // Runs once when the page loads (Gradio's `js`). Three jobs, all on the chat
  // (#qa-chat), which Gradio renders and re-renders as answers arrive:
  // 1. each message's accessible name is its plain text ("Answer: It currently has ..."),
  //    not the Markdown or HTML source Gradio puts in aria-label;
  // 2. after a question is answered, the question is scrolled to the top of the chat,
  //    so it and the top of its answer are on screen (not the end of the reply);
  // 3. "Read it in the article" opens at the first highlight.
  const CHAT = "#qa-chat";
  const MESSAGES = `${CHAT} [data-testid=user], ${CHAT} [data-testid=bot]`;

  const plain = (el) => (el.innerText || el.textContent || "").replace(/\s+/g, " ").trim();

  // A message's name is short: the question, or the answer card (not the article a
  // reply carries, which a screen reader reads as content anyway). Worked out again
  // only when the message's text changed.
  const LONGEST = 400;
  const label = () => {
    for (const el of document.querySelectorAll(MESSAGES)) {
      const size = (el.textContent || "").length;
      if (el.qaSize !== size) {
        const who = el.dataset.testid === "user" ? "Question" : "Answer";
        const card = el.querySelector(".qa-card");
        el.qaName = `${who}: ${plain(card || el)}`.slice(0, LONGEST);
        el.qaSize = size;
      }
      if (el.getAttribute("aria-label") !== el.qaName) el.setAttribute("aria-label", el.qaName);
    }
    for (const card of document.querySelectorAll(`${CHAT} .qa-card`)) {
      if (!card.hasAttribute("tabindex")) card.setAttribute("tabindex", "0");
    }
  };

  const scroller = (el) => {
    for (let node = el.parentElement; node; node = node.parentElement) {
      const style = getComputedStyle(node);
      if (/(auto|scroll)/.test(style.overflowY) && node.scrollHeight > node.clientHeight + 1) {
        return node;
      }
    }
    return null;
  };

  // Bring `el` to the top of what scrolls it, `gap` pixels below that edge: the chat
  // box when its messages overflow it (a desktop), else the page (a phone, where the
  // chat grows instead of scrolling). Nothing moves when `el` is already in view high
  // enough, so the page's title stays put after the first answer.
  const toTop = (el, gap = 8) => {
    const box = scroller(el);
    if (box) {
      box.scrollTop += el.getBoundingClientRect().top - box.getBoundingClientRect().top - gap;
      const top = box.getBoundingClientRect().top;
      if (top < 0) window.scrollBy(0, top - gap);
      return;
    }
    const top = el.getBoundingClientRect().top;
    if (top < 0 || top > window.innerHeight * 0.4) window.scrollBy(0, top - gap);
  };

  let questions = 0;
  let messages = 0;
  const follow = () => {
    const users = document.querySelectorAll(`${CHAT} [data-testid=user]`);
    const all = document.querySelectorAll(MESSAGES);
    if (users.length > questions) {
      const latest = users[users.length - 1];
      toTop(latest.closest(".message-row") || latest);
    } else if (all.length > messages && all.length) {
      // A message with no question of its own (the hint for an empty question).
      all[all.length - 1].scrollIntoView({ block: "nearest" });
    }
    questions = users.length;
    messages = all.length;
  };

  document.addEventListener(
    "toggle",
    (event) => {
      const details = event.target;
      if (!(details instanceof HTMLDetailsElement)) return;
      if (!details.open || !details.classList.contains("qa-article")) return;
      const first = details.querySelector("mark.qa-first") || details.querySelector("mark");
      if (first) requestAnimationFrame(() => toTop(first, 48));
    },
    true, // "toggle" does not bubble: listen while it travels down
  );

  let pending = false;
  const update = () => {
    if (pending) return;
    pending = true;
    requestAnimationFrame(() => {
      pending = false;
      label();
      follow();
    });
  };
  new MutationObserver(update).observe(document.body, {
    subtree: true,
    childList: true,
    characterData: true,
    attributes: true,
    attributeFilter: ["aria-label"],
  });
  update();

  // Focus the question box on a wide screen only: on a phone, focusing it would open
  // the keyboard and scroll the title out of view.
  if (window.matchMedia("(min-width: 768px)").matches) {
    const focus = () => {
      const box = document.querySelector("#qa-question textarea");
      if (box) box.focus({ preventScroll: true });
      else setTimeout(focus, 100);
    };
    focus();
  }
}
