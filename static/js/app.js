/* Small progressive enhancements; every page works without this file.
 * - [data-dialog="id"] links open the native <dialog id> with showModal() instead of navigating
 *   to their confirmation page; Esc or [data-dialog-close] closes it and focus returns to the link.
 * - htmx results ("Saved") and failures are announced in the #messages aria-live region.
 * - Esc closes an open dropdown <details> and puts focus back on its <summary>.
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
})();
