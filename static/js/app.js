/* Small progressive enhancements; every page works without this file.
 * - [data-dialog="id"] links open the native <dialog id> with showModal() instead of navigating
 *   to their confirmation page; Esc or [data-dialog-close] closes it and focus returns to the link.
 * - htmx results ("Saved") and failures are announced in the #messages aria-live region.
 * - Esc closes an open dropdown <details> and puts focus back on its <summary>.
 * - The agenda's "How did it go?" dialog closes when its task is done and focus moves on.
 * - The "Log activity" dialog closes once saved.
 * - [data-rating-colour] elements get their colour as the --rating-colour custom property (set
 *   through the CSSOM: the Content-Security-Policy refuses style="" attributes in the HTML).
 * - [data-refresh-on="name …"] elements hear "crm:refresh" (their hx-trigger) when one of the
 *   named fields inside them changes (an hx-trigger filter would need eval, which the policy
 *   refuses).
 */
(function () {
  "use strict";

  function announce(text, kind) {
    var region = document.getElementById("messages");
    if (!region || !text) return;
    var item = document.createElement("p");
    item.className = "message message-" + (kind || "success");
    item.textContent = text;
    while (region.children.length >= 3) region.removeChild(region.firstElementChild);
    region.appendChild(item);
  }

  document.addEventListener("crm:announce", function (event) {
    announce(event.detail && event.detail.value);
  });
  function announceFailure() {
    announce(document.body.getAttribute("data-error-message"), "error");
  }
  document.addEventListener("htmx:responseError", announceFailure);
  document.addEventListener("htmx:sendError", announceFailure);

  document.addEventListener("click", function (event) {
    var opener = event.target.closest("[data-dialog]");
    if (opener) {
      var dialog = document.getElementById(opener.getAttribute("data-dialog"));
      if (dialog && typeof dialog.showModal === "function") {
        event.preventDefault();
        dialog.crmOpener = opener;
        dialog.showModal();
      }
      return;
    }
    var closer = event.target.closest("[data-dialog-close]");
    if (closer) {
      var parent = closer.closest("dialog");
      if (parent) {
        event.preventDefault();
        parent.close();
      }
    }
  });

  // "close" does not bubble: listen in the capture phase for every dialog on the page.
  document.addEventListener(
    "close",
    function (event) {
      var dialog = event.target;
      if (dialog.tagName === "DIALOG" && dialog.crmOpener) {
        dialog.crmOpener.focus();
        dialog.crmOpener = null;
      }
    },
    true
  );

  // The agenda's "How did it go?" dialog ([data-agenda-complete] forms). Done: htmx redraws the
  // agenda without the task, so close the dialog first and move focus to the next task (else the
  // previous one, else the section heading). Errors: the form is swapped in place; focus the field.
  function focusLater(find) {
    window.setTimeout(function () {
      var target = find();
      if (target) target.focus();
    }, 0);
  }
  document.addEventListener("htmx:beforeSwap", function (event) {
    var form = event.detail.requestConfig && event.detail.requestConfig.elt;
    if (!form || !form.hasAttribute || !form.hasAttribute("data-agenda-complete")) return;
    if (!event.detail.shouldSwap) return;
    var dialog = form.closest("dialog");
    if (event.detail.target && event.detail.target.id === "agenda-sections") {
      var item = form.closest(".agenda-item");
      var near = item && (item.nextElementSibling || item.previousElementSibling);
      var nearId = near && near.getAttribute("data-focus");
      var heading = item && item.closest(".agenda-section").querySelector("h2");
      var headingId = heading && heading.id;
      if (dialog) {
        dialog.crmOpener = null;
        dialog.close();
      }
      focusLater(function () {
        return (
          (nearId && document.getElementById(nearId)) ||
          (headingId && document.getElementById(headingId)) ||
          document.getElementById("main")
        );
      });
    } else {
      var formId = form.id;
      focusLater(function () {
        var fresh = document.getElementById(formId);
        var bad = fresh && fresh.querySelector('[aria-invalid="true"]');
        if (bad && bad.tagName === "FIELDSET") bad = bad.querySelector("input:checked, input");
        return bad;
      });
    }
  });

  // "Log activity" (issue #9): saved, so the dialog closes (focus goes back to its button); the
  // tasks, the history and the next-activity badge were swapped in by htmx (hx-select-oob).
  document.addEventListener("crm:activity-logged", function () {
    document.querySelectorAll("dialog[data-log-dialog][open]").forEach(function (dialog) {
      dialog.close();
    });
  });

  function applyColours(root) {
    if (!root.querySelectorAll) return;
    var found = Array.prototype.slice.call(root.querySelectorAll("[data-rating-colour]"));
    if (root.hasAttribute && root.hasAttribute("data-rating-colour")) found.push(root);
    found.forEach(function (element) {
      element.style.setProperty("--rating-colour", element.getAttribute("data-rating-colour"));
    });
  }
  applyColours(document);
  // Drawn later (htmx swaps, search results, dialogs): colour them as they arrive.
  new MutationObserver(function (records) {
    records.forEach(function (record) {
      record.addedNodes.forEach(function (node) {
        if (node.nodeType === 1) applyColours(node);
      });
    });
  }).observe(document.documentElement, { childList: true, subtree: true });

  document.addEventListener("change", function (event) {
    var field = event.target;
    var scope = field.closest && field.closest("[data-refresh-on]");
    if (!scope || !window.htmx || !field.name) return;
    if (scope.getAttribute("data-refresh-on").split(" ").indexOf(field.name) === -1) return;
    window.htmx.trigger(scope, "crm:refresh");
  });

  document.addEventListener("keydown", function (event) {
    if (event.key !== "Escape") return;
    var open = document.querySelector("details.dropdown[open]");
    if (open) {
      open.removeAttribute("open");
      open.querySelector("summary").focus();
    }
  });

  document.addEventListener("click", function (event) {
    document.querySelectorAll("details.dropdown[open]").forEach(function (menu) {
      if (!menu.contains(event.target)) menu.removeAttribute("open");
    });
  });

  // "Copy" buttons: copy the text of the input they name; the input stays selectable by hand.
  document.addEventListener("click", function (event) {
    var button = event.target.closest("button[data-copy]");
    if (!button) return;
    var input = document.getElementById(button.dataset.copy);
    if (!input) return;
    input.select();
    var done = function () {
      var live = document.getElementById("messages");
      button.textContent = button.dataset.copied;
      if (live) {
        var note = document.createElement("p");
        note.className = "message message-success";
        note.textContent = button.dataset.copied;
        live.replaceChildren(note);
      }
    };
    if (navigator.clipboard && window.isSecureContext) {
      navigator.clipboard.writeText(input.value).then(done, function () {});
    } else if (document.execCommand && document.execCommand("copy")) {
      done();
    }
  });
})();
