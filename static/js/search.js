/* Global search (Ctrl-K, Cmd-K or "/"): the header's "Search" link opens the #search-dialog
 * <dialog> instead of the /search/ page (which is what works without JavaScript).
 * The input is an ARIA combobox over the #search-listbox: typing asks /search/?q= for the
 * options fragment (records and commands); ArrowDown/ArrowUp move aria-activedescendant,
 * Enter opens the active option (with none active, Enter submits to the full results page),
 * Esc closes the dialog and app.js returns focus to where it was. Keys pressed while the options
 * for the typed text are on their way wait for them (never a stale option).
 */
(function () {
  "use strict";

  var dialog = document.getElementById("search-dialog");
  if (!dialog || typeof dialog.showModal !== "function") return;
  var input = document.getElementById("search-input");
  var listbox = document.getElementById("search-listbox");
  var status = document.getElementById("search-status");
  var form = dialog.querySelector("[data-search-form]");
  var url = form.getAttribute("action");
  var active = -1;
  var timer = null;
  var controller = null;
  var latest = null;
  var pending = null; // {moves, enter}: keys pressed before the latest options arrived

  function options() {
    return listbox.querySelectorAll('[role="option"]');
  }

  function setActive(index) {
    var items = options();
    active = index;
    items.forEach(function (item, i) {
      item.setAttribute("aria-selected", i === index ? "true" : "false");
    });
    if (index >= 0 && items[index]) {
      input.setAttribute("aria-activedescendant", items[index].id);
      items[index].scrollIntoView({ block: "nearest" });
    } else {
      input.removeAttribute("aria-activedescendant");
    }
  }

  function render(html, query) {
    var template = document.createElement("template");
    template.innerHTML = html;
    var note = template.content.querySelector("[data-search-status]");
    var list = template.content.querySelector("[data-search-options]");
    listbox.replaceChildren.apply(listbox, list ? Array.prototype.slice.call(list.children) : []);
    input.setAttribute("aria-expanded", options().length ? "true" : "false");
    status.textContent = note ? note.textContent.trim() : "";
    setActive(-1);
    // Options for text the user has since changed: keys pressed meanwhile wait for the next ones.
    if (query !== input.value.trim()) return;
    var keys = pending;
    pending = null;
    if (!keys) return;
    var count = options().length;
    if (keys.moves && count) {
      setActive((((keys.moves > 0 ? keys.moves - 1 : keys.moves) % count) + count) % count);
    }
    if (keys.enter) choose();
  }

  function choose() {
    var items = options();
    if (active >= 0 && items[active]) go(items[active]);
    else if (form.requestSubmit) form.requestSubmit();
    else form.submit();
  }

  function load(query) {
    if (controller) controller.abort();
    controller = typeof AbortController === "function" ? new AbortController() : null;
    latest = query;
    pending = pending || { moves: 0, enter: false };
    fetch(url + "?q=" + encodeURIComponent(query), {
      headers: { "HX-Request": "true" },
      credentials: "same-origin",
      signal: controller ? controller.signal : undefined,
    })
      .then(function (response) {
        if (!response.ok) throw new Error(String(response.status));
        return response.text();
      })
      .then(function (html) {
        if (query === latest) render(html, query);
      })
      .catch(function (error) {
        if (error && error.name === "AbortError") return;
        pending = null;
        status.textContent = document.body.getAttribute("data-error-message") || "";
      });
  }

  function open(opener) {
    if (!dialog.open) {
      dialog.crmOpener = opener && opener !== document.body ? opener : null;
      dialog.showModal();
      load(input.value.trim());
    }
    input.focus();
    input.select();
  }

  function go(item) {
    var href = item && item.getAttribute("data-href");
    if (href) window.location.assign(href);
  }

  function isTyping(element) {
    return (
      !!element &&
      (element.isContentEditable || /^(INPUT|TEXTAREA|SELECT)$/.test(element.tagName))
    );
  }

  function otherDialogOpen() {
    var found = document.querySelector("dialog[open]");
    return !!found && found !== dialog;
  }

  document.addEventListener("keydown", function (event) {
    var key = event.key;
    var shortcut =
      (event.ctrlKey || event.metaKey) && !event.altKey && !event.shiftKey && (key === "k" || key === "K");
    var slash =
      key === "/" && !event.ctrlKey && !event.metaKey && !event.altKey && !isTyping(event.target);
    if (!(shortcut || (slash && !dialog.open)) || otherDialogOpen()) return;
    event.preventDefault();
    open(document.activeElement);
  });

  document.addEventListener("click", function (event) {
    var link = event.target.closest("[data-search-open]");
    if (!link || event.button !== 0 || event.ctrlKey || event.metaKey || event.shiftKey) return;
    event.preventDefault();
    open(link);
  });

  input.addEventListener("input", function () {
    window.clearTimeout(timer);
    setActive(-1);
    pending = pending || { moves: 0, enter: false };
    timer = window.setTimeout(function () {
      load(input.value.trim());
    }, 150);
  });

  input.addEventListener("keydown", function (event) {
    var items = options();
    var arrow = event.key === "ArrowDown" || event.key === "ArrowUp";
    if (pending && (arrow || event.key === "Enter")) {
      event.preventDefault();
      if (event.key === "Enter") pending.enter = true;
      else pending.moves += event.key === "ArrowDown" ? 1 : -1;
      return;
    }
    if (arrow) {
      event.preventDefault();
      if (!items.length) return;
      if (event.key === "ArrowDown") setActive(active < items.length - 1 ? active + 1 : 0);
      else setActive(active > 0 ? active - 1 : items.length - 1);
    } else if (event.key === "Enter" && active >= 0 && items[active]) {
      event.preventDefault();
      go(items[active]);
    }
  });

  listbox.addEventListener("click", function (event) {
    go(event.target.closest('[role="option"]'));
  });
})();
