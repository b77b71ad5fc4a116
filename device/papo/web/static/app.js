// Papo's page: the CSRF header on every request, JSON forms with inline errors, the password re-entry dialog.
(function () {
  "use strict";

  function csrfToken() {
    var meta = document.querySelector('meta[name="csrf-token"]');
    var match = document.cookie.match(/(?:^|;\s*)csrftoken=([^;]+)/);
    return match ? decodeURIComponent(match[1]) : meta ? meta.content : "";
  }

  // htmx requests carry the CSRF token too.
  document.addEventListener("htmx:configRequest", function (event) {
    event.detail.headers["x-csrftoken"] = csrfToken();
  });

  function api(method, url, body) {
    return fetch(url, {
      method: method,
      credentials: "same-origin",
      headers: { "content-type": "application/json", "x-csrftoken": csrfToken(), accept: "application/json" },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
  }

  // Asks for the password again (403 with reauth: true); resolves true once it was confirmed.
  function reauth() {
    var dialog = document.getElementById("reauth");
    if (!dialog || !dialog.showModal) return Promise.resolve(false);
    var form = document.getElementById("reauth-form");
    var input = document.getElementById("f-reauth-password");
    var error = form.querySelector('[data-error-for="reauth-password"]');
    input.value = "";
    error.textContent = "";
    dialog.showModal();
    input.focus();
    return new Promise(function (resolve) {
      function finish(ok) {
        form.removeEventListener("submit", onSubmit);
        dialog.removeEventListener("close", onClose);
        if (dialog.open) dialog.close();
        resolve(ok);
      }
      function onClose() { finish(false); }
      function onSubmit(event) {
        event.preventDefault();
        api("POST", "/api/v1/session/confirm", { password: input.value }).then(function (response) {
          if (response.ok) return finish(true);
          return response.json().then(function (body) {
            error.textContent = body.detail || "";
            input.setAttribute("aria-invalid", "true");
            input.focus();
          });
        });
      }
      form.addEventListener("submit", onSubmit);
      dialog.addEventListener("close", onClose);
    });
  }

  // Calls the API; after a 403 asking for the password, asks for it and tries once more.
  function call(method, url, body) {
    return api(method, url, body).then(function (response) {
      if (response.status !== 403) return response;
      return response.clone().json().then(function (data) {
        if (!data || !data.reauth) return response;
        return reauth().then(function (ok) { return ok ? api(method, url, body) : response; });
      }, function () { return response; });
    });
  }
  window.papo = { api: call, reauth: reauth, csrfToken: csrfToken };

  // htmx: a form refused with its fields marked (400, 422) is swapped in like a success, so each reason shows
  // next to its field (htmx swaps no 4xx by default).
  document.addEventListener("htmx:beforeSwap", function (event) {
    var status = event.detail.xhr.status;
    if (status === 400 || status === 422) {
      event.detail.shouldSwap = true;
      event.detail.isError = false;
    }
  });

  // htmx: a lost session goes to the login page; a 403 asking for the password asks for it and sends again.
  document.addEventListener("htmx:responseError", function (event) {
    var xhr = event.detail.xhr;
    if (xhr.status === 401) {
      window.location.assign("/entrar?next=" + encodeURIComponent(window.location.pathname + window.location.search));
      return;
    }
    if (xhr.status !== 403) return;
    var data = null;
    try { data = JSON.parse(xhr.responseText); } catch (error) { return; }
    if (!data || !data.reauth) return;
    var config = event.detail.requestConfig;
    reauth().then(function (ok) {
      if (ok) window.htmx.ajax(config.verb.toUpperCase(), config.path, { source: config.elt, target: event.detail.target });
    });
  });

  document.addEventListener("click", function (event) {
    var target = event.target.closest("[data-close]");
    if (target) document.getElementById(target.getAttribute("data-close")).close();
  });

  // <form data-api="METHOD" action="/api/..."> (or data-api-url="/api/..." beside a plain-form action) is sent as
  // JSON; field errors appear next to their field.
  document.addEventListener("submit", function (event) {
    var form = event.target;
    var method = form.getAttribute("data-api");
    if (!method) return;
    event.preventDefault();
    var body = {};
    new FormData(form).forEach(function (value, key) { body[key] = value; });
    form.querySelectorAll("[data-error-for]").forEach(function (node) { node.textContent = ""; });
    form.querySelectorAll("[aria-invalid]").forEach(function (node) { node.removeAttribute("aria-invalid"); });
    var status = form.querySelector(".form-status");
    if (status) status.textContent = "";
    delete body._csrf_token;
    var url = form.getAttribute("data-api-url") || form.getAttribute("action");
    call(method, url, method === "DELETE" ? undefined : body).then(function (response) {
      if (response.ok) {
        if (form.hasAttribute("data-reload")) return window.location.reload();
        return response.status === 204 ? null : response.json().catch(function () { return null; });
      }
      return response.json().catch(function () { return {}; }).then(function (data) {
        var name = data.field || (data.extra && data.extra[0] && data.extra[0].key);
        var slot = name && form.querySelector('[data-error-for="' + name + '"]');
        var message = data.detail || response.statusText;
        if (slot) {
          slot.textContent = message;
          var input = form.querySelector('[name="' + name + '"]');
          if (input) { input.setAttribute("aria-invalid", "true"); input.focus(); }
        } else if (status) {
          status.textContent = message;
        }
        throw new Error("refused");
      });
    }).then(function (data) {
      var next = (data && data.next) || form.getAttribute("data-next");
      if (next) window.location.assign(next);
    }).catch(function () {});
  });
})();
