/* Tagging without a page reload (dashboard/answers.html, bot/dashboard/themes.py).

   Every form marked data-enhance is an ordinary form that works without this script: it
   posts, and the server redirects back to the same survey page. Here the same form is
   posted with fetch (its CSRF token travels in the form's own hidden field); fetch
   follows the redirect, and from the page it gets back only the parts marked data-swap
   that changed are put in place. Nothing navigates, so the scroll position, open notes
   and half-typed text all stay. The server's message is read out from a status region.
   If anything unexpected comes back (signed out, an error page), it falls back to what
   the plain form would have done. */
(function () {
  "use strict";
  var section = document.getElementById("answers-section");
  if (!section || !window.fetch || !window.DOMParser || !window.FormData) {
    return;
  }
  document.documentElement.classList.add("js");
  var status = document.getElementById("answers-status");
  var surveyPage = section.getAttribute("data-survey-page");
  var hideTimer = null;

  function say(text, isError) {
    if (!status) {
      return;
    }
    // The region is always there (so screen readers hear what is put in it); empty, it
    // takes no room.
    status.textContent = text;
    status.classList.toggle("toast-error", Boolean(isError));
    window.clearTimeout(hideTimer);
    hideTimer = window.setTimeout(function () {
      status.textContent = "";
    }, isError ? 10000 : 6000);
  }

  function swapFrom(doc) {
    document.querySelectorAll("#answers-section [data-swap][id]").forEach(function (old) {
      var fresh = doc.getElementById(old.id);
      if (fresh && fresh.outerHTML !== old.outerHTML) {
        old.replaceWith(document.importNode(fresh, true));
      }
    });
    // An answer that no longer matches the page's filter (say, its theme was removed
    // while the list shows only that theme) stays until the page is reloaded.
    document.querySelectorAll("#answers-section li.answer[id]").forEach(function (item) {
      if (!doc.getElementById(item.id) && !item.querySelector(".gone")) {
        var note = document.createElement("p");
        note.className = "gone muted";
        note.textContent = "This answer no longer matches what this page shows; it will " +
          "go when the page is reloaded.";
        item.prepend(note);
      }
    });
  }

  function refocus(focusedId, answer) {
    var again = focusedId && document.getElementById(focusedId);
    if (again && !again.disabled) {
      again.focus({preventScroll: true});
      return;
    }
    var fallback = answer && answer.querySelector("select[name=theme]");
    if (fallback) {
      fallback.focus({preventScroll: true});
    }
  }

  function messagesOf(doc) {
    var found = Array.prototype.map.call(doc.querySelectorAll(".flashes .flash"), function (p) {
      return {text: p.textContent.trim(), error: p.classList.contains("flash-error")};
    });
    return {
      text: found.map(function (m) { return m.text; }).join(" "),
      error: found.some(function (m) { return m.error; })
    };
  }

  function setBusy(form, busy) {
    form.setAttribute("aria-busy", busy ? "true" : "false");
    form.querySelectorAll("button").forEach(function (button) { button.disabled = busy; });
  }

  async function send(form) {
    var focused = document.activeElement;
    var focusedId = focused && focused.id;
    var answer = form.closest("li.answer");
    var inSuggestions = Boolean(form.closest("#suggestions-panel"));
    var body = new FormData(form);
    var asking = form.hasAttribute("data-get");
    var target = form.action;
    if (asking) {
      // A GET form (Suggest themes): the same URL the browser would go to.
      var url = new URL(form.action, window.location.href);
      url.search = new URLSearchParams(body).toString();
      url.hash = "";
      target = url.toString();
    }
    setBusy(form, true);
    if (asking) {
      say("Grouping similar answers\u2026", false);
    }
    var response;
    var html;
    try {
      response = await fetch(target, asking ? {
        method: "GET", credentials: "same-origin", headers: {"X-Requested-With": "fetch"}
      } : {
        method: "POST", body: body, credentials: "same-origin",
        headers: {"X-Requested-With": "fetch"}
      });
      html = await response.text();
    } catch (err) {
      setBusy(form, false);
      say((asking ? "No suggestions" : "That was not saved") + ": the server could not be " +
          "reached. Check the connection and try again.", true);
      return;
    }
    setBusy(form, false);
    var doc = new DOMParser().parseFromString(html, "text/html");
    var landed = new URL(response.url, window.location.href);
    if (!response.ok) {
      var problem = doc.querySelector("main p");
      say((asking ? "No suggestions. " : "That was not saved. ") +
          (problem ? problem.textContent.trim() : ""), true);
      return;
    }
    if (landed.pathname !== surveyPage || !doc.getElementById("answers-section")) {
      // Signed out, or somewhere else entirely: go there, as the plain form would.
      window.location.assign(response.url);
      return;
    }
    swapFrom(doc);
    if (asking) {
      // The page now shows suggestions: keep them after a reload, and have every form
      // come back to this view (so accepting one suggestion shows the rest).
      var here = landed.pathname + landed.search;
      window.history.replaceState(null, "", here + window.location.hash);
      document.querySelectorAll("#answers-section input[name=back]").forEach(function (input) {
        input.value = here;
      });
    }
    var message = messagesOf(doc);
    say(message.text, message.error);
    if (!message.error) {
      if (form.hasAttribute("data-reset")) {
        form.reset();
      }
      if (form.hasAttribute("data-bulk")) {
        document.querySelectorAll("input[form=bulk-tag][name=answer], [data-select-all]")
          .forEach(function (box) { box.checked = false; });
      }
    }
    if (asking || (inSuggestions && !(focusedId && document.getElementById(focusedId)))) {
      // The suggestion acted on has gone: go on from the list of suggestions.
      var heading = document.getElementById("suggestions-heading");
      if (heading) {
        heading.setAttribute("tabindex", "-1");
        heading.focus({preventScroll: true});
      }
      if (asking) {
        say(message.text || "Suggestions are ready below.", message.error);
        return;
      }
    }
    refocus(focusedId, answer && document.getElementById(answer.id));
  }

  section.addEventListener("submit", function (event) {
    var form = event.target;
    if (!(form instanceof HTMLFormElement) || !form.hasAttribute("data-enhance")) {
      return;
    }
    event.preventDefault();
    send(form);
  });

  section.addEventListener("change", function (event) {
    var box = event.target;
    if (box instanceof HTMLInputElement && box.hasAttribute("data-select-all")) {
      document.querySelectorAll("input[form=bulk-tag][name=answer]").forEach(function (one) {
        one.checked = box.checked;
      });
    }
  });
}());
