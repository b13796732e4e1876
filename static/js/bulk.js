/* Bulk actions on list pages (progressive enhancement; the toolbar works without it):
 * - the "select all on this page" checkbox ([data-select-all]) ticks every row checkbox of the
 *   bulk form, and reflects a partial selection;
 * - the toolbar shows only the fields the chosen action uses ([data-bulk-for="assign tag"]);
 * - the number of ticked rows is announced in the toolbar's polite live region.
 */
(function () {
  "use strict";

  function rows(form) {
    return document.querySelectorAll('input[type="checkbox"][name="ids"][form="' + form.id + '"]');
  }

  function refresh(form) {
    var boxes = rows(form);
    var ticked = 0;
    boxes.forEach(function (box) {
      if (box.checked) ticked += 1;
    });
    var all = document.querySelector('[data-select-all="' + form.id + '"]');
    if (all) {
      all.checked = boxes.length > 0 && ticked === boxes.length;
      all.indeterminate = ticked > 0 && ticked < boxes.length;
    }
    var count = form.querySelector("[data-bulk-count]");
    if (count) {
      count.textContent = ticked
        ? count.getAttribute("data-some").replace("%(count)s", String(ticked))
        : count.getAttribute("data-none");
    }
  }

  function showFields(form) {
    var select = form.querySelector('select[name="action"]');
    var action = select ? select.value : "";
    form.querySelectorAll("[data-bulk-for]").forEach(function (field) {
      var uses = field.getAttribute("data-bulk-for").split(" ");
      field.hidden = uses.indexOf(action) === -1;
    });
  }

  function init() {
    document.querySelectorAll("form[data-bulk-form]").forEach(function (form) {
      var all = document.querySelector('[data-select-all="' + form.id + '"]');
      if (all) {
        all.hidden = false;
        all.addEventListener("change", function () {
          rows(form).forEach(function (box) {
            box.checked = all.checked;
          });
          refresh(form);
        });
      }
      rows(form).forEach(function (box) {
        box.addEventListener("change", function () {
          refresh(form);
        });
      });
      var select = form.querySelector('select[name="action"]');
      if (select) select.addEventListener("change", function () { showFields(form); });
      showFields(form);
      refresh(form);
    });
  }

  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", init);
  } else {
    init();
  }
})();
