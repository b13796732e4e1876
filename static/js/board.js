/* The pipeline board (templates/opportunities/board.html). Without this file every card's
 * "Move to stage" menu still posts a plain form and the server asks for a missing reason.
 * - Drag a card onto another column: its menu is set to that stage and submitted.
 * - Moving to the win (loss) stage opens the native reason <dialog> (showModal): the reason is
 *   required when the settings say so; Esc or Cancel closes it and focus returns to the card.
 * - Moves are sent with htmx: the board is redrawn in place, the result ("… moved to Won") is read
 *   out by the aria-live region (HX-Trigger crm:announce, see app.js) and focus goes back to the
 *   moved card. A refused move (400) is drawn too: the card shows why.
 */
(function () {
  "use strict";

  var pendingFocus = null;

  function cardOf(el) {
    return el && el.closest ? el.closest(".board-card") : null;
  }

  function send(form, cardId) {
    pendingFocus = cardId;
    if (!window.htmx) {
      HTMLFormElement.prototype.submit.call(form);
      return;
    }
    window.htmx.ajax("POST", form.getAttribute("action"), {
      source: form,
      target: "#board",
      swap: "outerHTML",
    });
  }

  function resetMenu(form) {
    var select = form.querySelector("select[name=stage]");
    if (select) select.value = select.getAttribute("data-current");
  }

  function askReason(form, kind, card) {
    var dialog = document.getElementById("reason-dialog-" + kind);
    if (!dialog || typeof dialog.showModal !== "function") return false;
    var dform = dialog.querySelector("form[data-reason-form]");
    dform.reset();
    dform.setAttribute("action", form.getAttribute("action"));
    ["stage", "next", "board_owner"].forEach(function (name) {
      if (form.elements[name] && dform.elements[name]) {
        dform.elements[name].value = form.elements[name].value;
      }
    });
    dialog.querySelector("[data-deal-name]").textContent = form.getAttribute("data-name") || "";
    dialog.crmOpener = card; // app.js puts focus back here when the dialog closes
    dialog.crmMoveForm = form;
    dialog.crmSent = false;
    dialog.showModal();
    return true;
  }

  function move(form) {
    var select = form.querySelector("select[name=stage]");
    var option = select && select.options[select.selectedIndex];
    var card = cardOf(form);
    var kind = option && option.getAttribute("data-close");
    if (kind && askReason(form, kind, card)) return;
    send(form, card && card.id);
  }

  document.addEventListener("submit", function (event) {
    var form = event.target;
    if (form.hasAttribute("data-move-form")) {
      event.preventDefault();
      move(form);
    } else if (form.hasAttribute("data-reason-form")) {
      event.preventDefault(); // the browser already refused it if a required reason is missing
      var dialog = form.closest("dialog");
      var card = dialog.crmOpener;
      dialog.crmSent = true;
      dialog.crmOpener = null; // the board is redrawn: focus goes to the new card instead
      dialog.close();
      send(form, card && card.id);
    }
  });

  // Cancelled (Esc or Cancel): the card's menu goes back to its current stage.
  document.addEventListener(
    "close",
    function (event) {
      var dialog = event.target;
      if (dialog.classList && dialog.classList.contains("reason-dialog")) {
        if (!dialog.crmSent && dialog.crmMoveForm) resetMenu(dialog.crmMoveForm);
        dialog.crmMoveForm = null;
      }
    },
    true
  );

  // A refused move comes back as 400 with the board and the card's error: draw it.
  document.addEventListener("htmx:beforeSwap", function (event) {
    var target = event.detail.target;
    if (target && target.id === "board" && event.detail.xhr.status === 400) {
      event.detail.shouldSwap = true;
      event.detail.isError = false;
    }
  });

  document.addEventListener("htmx:afterSettle", function () {
    if (!pendingFocus) return;
    var card = document.getElementById(pendingFocus);
    pendingFocus = null;
    if (card) {
      card.focus();
      card.scrollIntoView({ block: "nearest", inline: "nearest" });
    }
  });

  // --- drag and drop --------------------------------------------------------------------------
  var dragged = null;

  document.addEventListener("dragstart", function (event) {
    var card = cardOf(event.target);
    if (!card || !card.closest("#board")) return;
    dragged = card;
    card.classList.add("is-dragging");
    event.dataTransfer.effectAllowed = "move";
    event.dataTransfer.setData("text/plain", card.id);
  });

  document.addEventListener("dragend", function () {
    if (dragged) dragged.classList.remove("is-dragging");
    dragged = null;
    document.querySelectorAll(".board-column.is-drop-target").forEach(function (col) {
      col.classList.remove("is-drop-target");
    });
  });

  function columnOf(event) {
    var column = event.target.closest && event.target.closest(".board-column");
    return dragged && column ? column : null;
  }

  document.addEventListener("dragover", function (event) {
    var column = columnOf(event);
    if (!column) return;
    event.preventDefault();
    event.dataTransfer.dropEffect = "move";
    column.classList.add("is-drop-target");
  });

  document.addEventListener("dragleave", function (event) {
    var column = columnOf(event);
    if (column && !column.contains(event.relatedTarget)) {
      column.classList.remove("is-drop-target");
    }
  });

  document.addEventListener("drop", function (event) {
    var column = columnOf(event);
    if (!column) return;
    event.preventDefault();
    column.classList.remove("is-drop-target");
    var card = dragged;
    var stage = column.getAttribute("data-stage");
    if (card.getAttribute("data-stage") === stage) return;
    var form = card.querySelector("form[data-move-form]");
    form.querySelector("select[name=stage]").value = stage;
    move(form);
  });
})();
