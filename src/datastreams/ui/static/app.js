// Behaviour of the Data Streams admin pages. Every page works without this script
// through plain forms and links. The script adds the add and edit dialog, Test results
// shown in place, confirmation dialogs, filter rows and the periodic refresh.
"use strict";

(() => {
  // Requests for a part of a page carry this header. A redirect in the response comes
  // back in the location header instead of a 303, so the script can follow it.
  const FRAGMENT_HEADER = "Datastreams-Fragment";
  const LOCATION_HEADER = "Datastreams-Location";

  document.documentElement.classList.add("js");

  // Fetch a part of a page. Returns null when the response sent the browser elsewhere,
  // such as to the sign-in page after the session ended, or to a saved stream's page.
  async function fetchFragment(url, options = {}) {
    const headers = { [FRAGMENT_HEADER]: "1", ...(options.headers || {}) };
    const response = await fetch(url, { ...options, headers, credentials: "same-origin" });
    if (response.status === 401) {
      window.location.reload();
      return null;
    }
    const location = response.headers.get(LOCATION_HEADER);
    if (location) {
      window.location.assign(location);
      return null;
    }
    return response;
  }

  // Dialogs --------------------------------------------------------------------------

  async function openFormDialog(link) {
    const dialog = document.getElementById(link.dataset.openDialog);
    const body = dialog.querySelector("[data-dialog-body]");
    let response;
    try {
      response = await fetchFragment(link.href);
    } catch (error) {
      window.location.assign(link.href);
      return;
    }
    if (!response) return;
    body.innerHTML = await response.text();
    dialog.showModal();
    enhance(body);
    const first = body.querySelector("input:not([type=hidden]):not([tabindex='-1']), select, textarea");
    if (first) first.focus();
  }

  function closeDialog(element) {
    const dialog = element.closest("dialog");
    if (dialog) dialog.close();
  }

  document.addEventListener("close", (event) => {
    const body = event.target.querySelector && event.target.querySelector("[data-dialog-body]");
    if (body) body.innerHTML = "";
  }, true);

  // The server shows a confirmation page of its own unless the form marks it confirmed.
  function markConfirmed(form) {
    let field = form.querySelector("input[name=confirmed]");
    if (!field) {
      field = document.createElement("input");
      field.type = "hidden";
      field.name = "confirmed";
      form.append(field);
    }
    field.value = "yes";
  }

  function confirmThen(button) {
    const dialog = document.getElementById("confirm-dialog");
    dialog.querySelector("[data-confirm-message]").textContent = button.dataset.confirm;
    dialog.querySelector("[data-confirm-accept]").textContent = button.dataset.confirmLabel || "Delete";
    dialog.returnValue = "";
    dialog.addEventListener("close", () => {
      if (dialog.returnValue === "accept") {
        markConfirmed(button.form);
        button.form.requestSubmit(button);
      } else {
        button.focus();
      }
    }, { once: true });
    dialog.showModal();
    // The safe choice has the focus, so Enter alone deletes nothing.
    dialog.querySelector("[data-confirm-cancel]").focus();
  }

  // Forms posted in the background ------------------------------------------------------

  function passwordValues(container) {
    const values = new Map();
    for (const input of container.querySelectorAll("input[data-keep-value]")) {
      values.set(input.name, input.value);
    }
    return values;
  }

  function restorePasswordValues(container, values) {
    // The server never sends a typed secret back, so it is carried across re-rendering.
    for (const input of container.querySelectorAll("input[data-keep-value]")) {
      if (values.has(input.name)) input.value = values.get(input.name);
    }
  }

  async function submitInBackground(form, submitter) {
    const data = new FormData(form, submitter);
    const target = form.dataset.target ? document.querySelector(form.dataset.target) : form.parentElement;
    const secrets = passwordValues(form);
    const action = submitter ? submitter.value : "";

    form.setAttribute("aria-busy", "true");
    if (submitter) submitter.disabled = true;
    let response;
    try {
      // form.action would name the form's "action" buttons, so the attribute is read.
      const url = form.getAttribute("action");
      response = await fetchFragment(url, { method: "POST", body: new URLSearchParams(data) });
    } catch (error) {
      form.removeAttribute("aria-busy");
      if (submitter) submitter.disabled = false;
      showNetworkError(target);
      return;
    }
    if (!response) return;

    const html = await response.text();
    // A form whose response goes to another element stays on the page, so enable it again.
    form.removeAttribute("aria-busy");
    if (submitter) submitter.disabled = false;
    target.innerHTML = html;
    restorePasswordValues(target, secrets);
    enhance(target);
    focusAfterSubmit(target, action);
  }

  function showNetworkError(target) {
    const notice = document.createElement("div");
    notice.className = "notice notice-error";
    notice.setAttribute("role", "alert");
    notice.textContent = "The service did not answer. Check the connection and try again.";
    target.prepend(notice);
  }

  function focusAfterSubmit(container, action) {
    const invalid = container.querySelector("[aria-invalid=true]");
    if (invalid) {
      invalid.focus();
      return;
    }
    const result = container.querySelector("[data-test-result] h3");
    const button = action && container.querySelector(`button[name=action][value="${CSS.escape(action)}"]`);
    if (button) button.focus({ preventScroll: true });
    else if (result) result.focus({ preventScroll: true });
    if (result) result.scrollIntoView({ block: "start" });
  }

  // The stream form -----------------------------------------------------------------------

  function enhanceStreamForm(form) {
    const pathsElement = form.querySelector("[data-property-paths]");
    const propertyPaths = pathsElement ? JSON.parse(pathsElement.textContent) : {};
    const typeControl = form.querySelector("[data-stream-type]");
    const rows = form.querySelector("[data-filter-rows]");
    const template = form.querySelector("[data-filter-template]");
    const enabled = form.querySelector("input[name=enabled]");
    const warning = form.querySelector("[data-no-filter-warning]");

    function showFieldsOfType() {
      const type = typeControl.value;
      for (const element of form.querySelectorAll("[data-stream-types]")) {
        const active = element.dataset.streamTypes.split(" ").includes(type);
        element.classList.toggle("inactive", !active);
        // Controls of other types are left out of the posted form.
        for (const control of element.querySelectorAll("input, select, textarea")) {
          if (!control.readOnly) control.disabled = !active;
        }
      }
    }

    function updateWarning() {
      const typed = [...rows.querySelectorAll("[data-event-type]")].some((select) => select.value);
      warning.hidden = !(enabled.checked && !typed);
    }

    function updateSuggestions(row) {
      const type = row.querySelector("[data-event-type]").value;
      const input = row.querySelector("[data-properties]");
      const list = document.getElementById(input.getAttribute("list"));
      const text = input.value;
      const cut = text.lastIndexOf(",");
      const prefix = cut >= 0 ? `${text.slice(0, cut + 1).trimEnd()} ` : "";
      const chosen = new Set(text.split(",").map((part) => part.trim()).filter(Boolean));
      const options = (propertyPaths[type] || [])
        .filter((path) => !chosen.has(path))
        .map((path) => {
          const option = document.createElement("option");
          option.value = prefix + path;
          return option;
        });
      list.replaceChildren(...options);
    }

    function enhanceRow(row) {
      row.querySelector("[data-event-type]").addEventListener("change", () => {
        updateSuggestions(row);
        updateWarning();
      });
      const input = row.querySelector("[data-properties]");
      input.addEventListener("input", () => updateSuggestions(row));
      input.addEventListener("focus", () => updateSuggestions(row));
      row.querySelector("[data-remove-filter]").addEventListener("click", (event) => {
        event.preventDefault();
        row.remove();
        updateWarning();
        form.querySelector("[data-add-filter]").focus();
      });
    }

    form.querySelector("[data-add-filter]").addEventListener("click", (event) => {
      event.preventDefault();
      const index = Number(rows.dataset.nextIndex || "0");
      rows.dataset.nextIndex = String(index + 1);
      rows.insertAdjacentHTML("beforeend", template.innerHTML.replaceAll("__INDEX__", String(index)));
      const row = rows.lastElementChild;
      enhanceRow(row);
      row.querySelector("[data-event-type]").focus();
      updateWarning();
    });

    for (const row of rows.querySelectorAll("[data-filter-row]")) enhanceRow(row);
    if (typeControl.tagName === "SELECT") typeControl.addEventListener("change", showFieldsOfType);
    enabled.addEventListener("change", updateWarning);
    showFieldsOfType();
    updateWarning();
  }

  // Periodic refresh --------------------------------------------------------------------

  function startRefresh(element) {
    const interval = Number(element.dataset.refreshMs) || 5000;
    const refresh = async () => {
      // A refresh would take the focus or an open detail away from the user.
      const busy = document.hidden || element.contains(document.activeElement) ||
        element.querySelector("details[open]");
      if (!busy) {
        try {
          const response = await fetchFragment(element.dataset.refreshUrl);
          if (response && response.ok) element.innerHTML = await response.text();
        } catch (error) {
          // The next refresh tries again.
        }
      }
      window.setTimeout(refresh, interval);
    };
    window.setTimeout(refresh, interval);
  }

  // Wiring --------------------------------------------------------------------------------

  function enhance(root) {
    for (const form of root.querySelectorAll("[data-stream-form]")) enhanceStreamForm(form);
  }

  document.addEventListener("click", (event) => {
    const opener = event.target.closest("a[data-open-dialog]");
    if (opener) {
      event.preventDefault();
      openFormDialog(opener);
      return;
    }

    const closer = event.target.closest("[data-close-dialog]");
    if (closer && closer.closest("dialog")) {
      event.preventDefault();
      closeDialog(closer);
      return;
    }

    const confirmable = event.target.closest("button[data-confirm]");
    if (confirmable) {
      event.preventDefault();
      confirmThen(confirmable);
      return;
    }

    if (event.target.closest("[data-confirm-accept]")) {
      document.getElementById("confirm-dialog").close("accept");
      return;
    }
    if (event.target.closest("[data-confirm-cancel]")) {
      document.getElementById("confirm-dialog").close("cancel");
      return;
    }

    const copy = event.target.closest("button[data-copy]");
    if (copy) {
      const source = document.getElementById(copy.dataset.copy);
      const original = copy.textContent;
      navigator.clipboard.writeText(source.value).then(
        () => {
          copy.textContent = "Copied";
          window.setTimeout(() => { copy.textContent = original; }, 2000);
        },
        () => source.select(),
      );
    }
  });

  document.addEventListener("submit", (event) => {
    const form = event.target;
    if (!form.matches("[data-fragment-form]")) return;
    event.preventDefault();
    submitInBackground(form, event.submitter);
  });

  document.addEventListener("change", (event) => {
    const all = event.target.closest("[data-select-all]");
    if (!all) return;
    for (const box of all.form.querySelectorAll("input[name=ids]")) box.checked = all.checked;
  });

  enhance(document);
  for (const element of document.querySelectorAll("[data-refresh-url]")) startRefresh(element);
})();
