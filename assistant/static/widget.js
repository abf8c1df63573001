/*
 * DGM Assistant chat widget: one <script> tag, no build step, no dependencies.
 *
 *   <script src="https://HOST/widget.js" data-endpoint="https://HOST" defer></script>
 *
 * Optional attributes: data-title, data-lang (en, fr, nl, de: the widget's own texts), data-open="true".
 * data-endpoint defaults to the script's own origin. The stylesheet (widget.css) and the texts of languages
 * other than English (i18n/LANG.json) are loaded from beside the script, or from data-endpoint when the
 * script's address is unknown.
 *
 * Everything lives in an open Shadow DOM under <dgm-assistant-widget id="dgm-assistant-root">, so the
 * host page's styles neither leak in nor are changed. Server data is only ever put in the DOM as text
 * (textContent / createTextNode), never parsed as HTML. Stable test hooks are data-testid attributes.
 * The conversation (session id and messages) survives a reload of the tab through sessionStorage.
 *
 * The service's limits (the longest question) come from its GET /api/config, read at start: never repeated here.
 *
 * One IIFE in sections: UI texts; configuration from the <script> tag; server data, checked before use;
 * state kept in sessionStorage; HTTP (the widget's files and the service's calls); styles; DOM helpers;
 * accessibility and scrolling; rendering (builds DOM from a message, nothing else); the widget (its
 * state and actions, redrawn after each change); start.
 */
(function () {
  "use strict";

  var HOST_TAG = "dgm-assistant-widget";
  var STORAGE_KEY = "dgm-assistant";
  var TIMEOUT_MS = 15000; // per request, enforced with an AbortController
  var ASSET_TIMEOUT_MS = 5000; // the widget's own stylesheet and strings, which it waits for before showing
  var MAX_STARTERS = 5;

  // ---------------------------------------------------------------- UI texts (the widget's own, not answers)
  var LANGUAGES = ["en", "fr", "nl", "de"];
  // Each language's own name (an endonym reads the same in every UI language): the label of a page's twin.
  var LANGUAGE_NAMES = { en: "English", fr: "français", nl: "Nederlands", de: "Deutsch" };

  // English is built in, so the widget never waits for it and falls back on it; it is also served as
  // i18n/en.json (tests/test_api.py checks the two agree). The other languages are fetched from i18n/.
  // {name} marks a value filled in by fmt().
  var EN = {
    "title": "DGM Assistant",
    "openLauncher": "Open {title}",
    "closeLauncher": "Close {title}",
    "newConversation": "New conversation",
    "close": "Close",
    "conversation": "Conversation",
    "inputLabel": "Your question",
    "placeholder": "Ask a question…",
    "send": "Send",
    "counter": "{n} / {max} characters",
    "counterNoMax": "{n} characters",
    "welcome": "Ask me about Belgium's multilateral policy and which directorate of the DGM " +
      "deals with a topic. Answers cite the pages of the FPS Foreign Affairs.",
    "startersLabel": "Try asking",
    "typing": "The assistant is writing an answer…",
    "you": "You",
    "assistant": "Assistant",
    "notCovered": "Not covered",
    "notice": "Note",
    "sources": "Sources",
    "showSource": "Source {n}: {title}",
    "hideSource": "Hide source",
    "openPassage": "Open the page at this passage",
    "newTab": "(opens in a new tab)",
    "thisPageIn": "This page in",
    "remit": "The unit's remit",
    "related": "Related passages",
    "section": "Section",
    "confidence": "confidence {p}%",
    "directorate": "Directorate",
    "secondary": "Also concerns",
    "suggestionsLabel": "You could ask",
    "helpful": "Helpful",
    "notHelpful": "Not helpful",
    "thanks": "Thank you for your feedback.",
    "feedbackFailed": "Your feedback could not be sent.",
    "announce": "New answer: ",
    "network": "The assistant could not be reached. Check your connection and try again.",
    "timeout": "The assistant took too long to answer.",
    "tooLong": "Your question is too long ({max} characters at most).",
    "rateLimited": "Too many questions in a short time. Try again in {s} seconds.",
    "rateLimitedLater": "Too many questions in a short time. Please wait a moment and try again.",
    "server": "The assistant is temporarily unavailable. Please try again later.",
    "invalid": "The question could not be processed.",
    "retry": "Try again"
  };

  function fmt(template, values) {
    return template.replace(/\{(\w+)\}/g, function (whole, name) {
      return Object.prototype.hasOwnProperty.call(values, name) ? String(values[name]) : whole;
    });
  }

  /** The strings of `lang`: i18n/LANG.json over the English (a missing or odd entry stays English; a
   *  failed fetch leaves all of it English). Never rejects. */
  function loadStrings(assets, lang) {
    if (lang === "en") return Promise.resolve(EN);
    return fetchAsset(assets + "i18n/" + lang + ".json", "json").then(function (texts) {
      var t = {};
      Object.keys(EN).forEach(function (key) {
        t[key] = texts && typeof texts[key] === "string" ? texts[key] : EN[key];
      });
      return t;
    }, function () { return EN; });
  }

  // ---------------------------------------------------------------- configuration from the <script> tag
  function findScript() {
    if (document.currentScript) return document.currentScript;
    var scripts = document.querySelectorAll("script[src*='widget.js']");
    return scripts.length ? scripts[scripts.length - 1] : null;
  }

  function pickLang(value) {
    var code = String(value || "").toLowerCase().slice(0, 2);
    return LANGUAGES.indexOf(code) >= 0 ? code : "en";
  }

  function readConfig(script) {
    var data = (script && script.dataset) || {};
    var origin = location.origin;
    var assets = null;
    try {
      if (script && script.src) {
        origin = new URL(script.src, location.href).origin;
        assets = new URL(".", new URL(script.src, location.href)).href;
      }
    } catch (e) { /* keep the page's origin */ }
    var endpoint = ((data.endpoint || "").trim() || origin).replace(/\/+$/, "");
    var lang = pickLang(data.lang || document.documentElement.lang);
    return {
      endpoint: endpoint,
      assets: assets || endpoint + "/", // widget.css and i18n/ sit beside widget.js
      lang: lang,
      title: (data.title || "").trim() || null, // null: the language's own title
      open: data.open === "true"
    };
  }

  // ---------------------------------------------------------------- server data, checked before use
  function str(value) { return typeof value === "string" ? value : value == null ? "" : String(value); }
  function optStr(value) { return typeof value === "string" && value ? value : null; }

  function cleanDirectorate(d) {
    if (!d || typeof d !== "object" || !d.code) return null;
    var conf = Number(d.confidence);
    return { code: str(d.code), name: str(d.name), confidence: isFinite(conf) ? conf : null };
  }

  /** A web address (http or https) or null: anything else (javascript:, data:, a file path) never becomes a link. */
  function webAddress(value) {
    return typeof value === "string" && /^https?:\/\/[^\s]+$/i.test(value) ? value : null;
  }

  /** A page's versions in the widget's languages, {lang: address}, from the API's `twins`. */
  function cleanTwins(twins) {
    var out = {};
    if (!twins || typeof twins !== "object") return out;
    LANGUAGES.forEach(function (lang) {
      var url = webAddress(twins[lang]);
      if (url) out[lang] = url;
    });
    return out;
  }

  function cleanCitation(c, i) {
    if (!c || typeof c !== "object") return null;
    var n = parseInt(c.n, 10);
    return {
      n: isFinite(n) ? n : i + 1, id: str(c.id), title: str(c.title) || str(c.id), section: optStr(c.section),
      source: optStr(c.source), text: str(c.text), url: webAddress(c.url), link: webAddress(c.link),
      twins: cleanTwins(c.twins), role: c.role === "remit" || c.role === "answer" ? c.role : null
    };
  }

  function cleanList(list, clean) {
    return (Array.isArray(list) ? list : []).map(clean).filter(Boolean);
  }

  /** The assistant message kept in memory and in sessionStorage, built from an /api/ask body. */
  function answerMessage(question, body) {
    return {
      role: "assistant",
      question: question,
      answer: str(body.answer),
      language: LANGUAGES.indexOf(body.language) >= 0 ? body.language : null, // the answer's, not the UI's
      abstained: body.abstained === true,
      citations: cleanList(body.citations, cleanCitation),
      related: cleanList(body.related, cleanCitation), // passages the API offers apart from the citations
      notice: optStr(body.notice),
      directorate: cleanDirectorate(body.directorate),
      secondary: cleanDirectorate(body.secondary_directorate || body.secondary),
      suggestions: (Array.isArray(body.suggestions) ? body.suggestions : []).filter(function (s) {
        return typeof s === "string" && s.trim();
      }).slice(0, 4),
      feedback: body.feedback === "up" || body.feedback === "down" ? body.feedback : null
    };
  }

  /** Up to MAX_STARTERS questions to offer from /api/directorates: the curated starters first, then one
   *  built from the name of each directorate without one (the corpus is in English). */
  function startersFrom(list) {
    if (!Array.isArray(list)) return [];
    var seen = {};
    var withStarter = list.filter(function (d) { return d && typeof d.starter === "string" && d.starter.trim(); });
    var without = list.filter(function (d) { return withStarter.indexOf(d) < 0 && d && (d.short_name || d.name); });
    return withStarter.map(function (d) { return d.starter.trim(); })
      .concat(without.map(function (d) { return "What does " + str(d.short_name || d.name) + " do?"; }))
      .filter(function (q) { return seen[q] ? false : (seen[q] = true); })
      .slice(0, MAX_STARTERS);
  }

  /** FastAPI's `detail`: a string, or a list of {loc, msg}; made into one readable sentence. */
  function formatDetail(detail) {
    if (typeof detail === "string") return detail;
    if (Array.isArray(detail)) {
      return detail.map(function (item) {
        if (typeof item === "string") return item;
        return item && typeof item.msg === "string" ? item.msg.replace(/^Value error, /, "") : "";
      }).filter(Boolean).join(" ");
    }
    if (detail && typeof detail.msg === "string") return detail.msg;
    return "";
  }

  function percent(confidence) {
    return Math.round(Math.max(0, Math.min(1, confidence)) * 100);
  }

  // ---------------------------------------------------------------- state kept in the tab's sessionStorage
  function loadState() {
    try {
      var raw = window.sessionStorage.getItem(STORAGE_KEY);
      var saved = raw ? JSON.parse(raw) : null;
      if (!saved || typeof saved !== "object" || !Array.isArray(saved.messages)) return null;
      return {
        sessionId: optStr(saved.session_id),
        open: saved.open === true,
        messages: saved.messages.map(function (m) {
          if (m && m.role === "user" && typeof m.text === "string") return { role: "user", text: m.text };
          if (m && m.role === "assistant") return answerMessage(str(m.question), m);
          return null;
        }).filter(Boolean)
      };
    } catch (e) {
      return null; // storage disabled or corrupt: start afresh
    }
  }

  function saveState(state) {
    try {
      var messages = state.messages.map(function (m) {
        if (m.role === "user") return m;
        return {
          role: "assistant", question: m.question, answer: m.answer, language: m.language, abstained: m.abstained,
          citations: m.citations, related: m.related, notice: m.notice,
          directorate: m.directorate, secondary_directorate: m.secondary, suggestions: m.suggestions,
          feedback: m.feedback
        };
      });
      window.sessionStorage.setItem(STORAGE_KEY, JSON.stringify({
        session_id: state.sessionId, open: state.open, messages: messages
      }));
    } catch (e) { /* storage full or disabled: the conversation just won't survive a reload */ }
  }

  // ---------------------------------------------------------------- HTTP
  /** GET of one of the widget's own files (`as`: "text" or "json"), under ASSET_TIMEOUT_MS. */
  function fetchAsset(url, as) {
    var controller = new AbortController();
    var timer = setTimeout(function () { controller.abort(); }, ASSET_TIMEOUT_MS);
    return fetch(url, { signal: controller.signal, credentials: "omit" }).then(function (res) {
      if (!res.ok) throw new Error(url + ": HTTP " + res.status);
      return as === "json" ? res.json() : res.text();
    }).finally(function () { clearTimeout(timer); });
  }

  /** The service's three calls. Each resolves with the JSON body (null if none) or rejects with
   *  {kind, message, retry}, the message in the widget's language and ready to show. */
  function apiClient(endpoint, t) {
    return {
      ask: function (question, sessionId, signal) {
        return request(endpoint, t, "POST", "/api/ask", {
          question: question, session_id: sessionId, top_k: null, directorate: null // top_k: the service's
        }, signal);
      },
      feedback: function (sessionId, m, rating) {
        return request(endpoint, t, "POST", "/api/feedback", {
          session_id: sessionId || "", question: m.question, answer: m.answer, rating: rating
        });
      },
      directorates: function () {
        return request(endpoint, t, "GET", "/api/directorates");
      }
    };
  }

  /** One request with a timeout; `signal` cancels it (it then rejects with {kind: "cancelled"}). */
  function request(endpoint, t, method, path, payload, signal) {
    var controller = new AbortController();
    var timedOut = false;
    var timer = setTimeout(function () { timedOut = true; controller.abort(); }, TIMEOUT_MS);
    if (signal) signal.addEventListener("abort", function () { controller.abort(); });
    var init = {
      method: method, signal: controller.signal, credentials: "omit", headers: { Accept: "application/json" }
    };
    if (payload !== undefined) {
      init.headers["Content-Type"] = "application/json";
      init.body = JSON.stringify(payload);
    }
    function failed() {
      if (signal && signal.aborted) return { kind: "cancelled" };
      return timedOut ? { kind: "timeout", message: t.timeout, retry: true }
        : { kind: "network", message: t.network, retry: true };
    }
    return fetch(endpoint + path, init).then(function (res) {
      if (res.ok && res.status === 204) return null;
      // The body is read under the same timeout; a cut-off body is a failure, not an empty answer.
      return res.json().catch(function () {
        if (controller.signal.aborted) throw failed();
        return null;
      }).then(function (body) {
        if (!res.ok) throw httpError(t, res, formatDetail(body && body.detail));
        return body;
      });
    }, function () {
      throw failed();
    }).finally(function () { clearTimeout(timer); });
  }

  function httpError(t, res, detail) {
    if (res.status === 429) {
      var wait = parseInt(res.headers.get("Retry-After") || "", 10);
      var message = isFinite(wait) ? fmt(t.rateLimited, { s: wait }) : detail || t.rateLimitedLater;
      return { kind: "http", status: 429, message: message, retry: true };
    }
    if (res.status === 413) return { kind: "http", status: 413, message: detail || t.tooLong, retry: false };
    if (res.status >= 500) return { kind: "http", status: res.status, message: t.server, retry: true };
    return { kind: "http", status: res.status, message: detail || t.invalid, retry: false };
  }

  /** The service's limits from GET /api/config: {maxChars} (null when the call fails: the widget then shows no
   *  limit and the service's own refusal explains it). Never rejects. */
  function loadLimits(endpoint) {
    return fetchAsset(endpoint + "/api/config", "json").then(function (body) {
      var max = parseInt(body && body.max_question_chars, 10);
      return { maxChars: isFinite(max) && max > 0 ? max : null };
    }, function () { return { maxChars: null }; });
  }

  // ---------------------------------------------------------------- styles (widget.css, in the shadow root)
  /**
   * Links widget.css into the shadow root; resolves once it applies, or could not, or ASSET_TIMEOUT_MS
   * passed (the link stays: a late sheet still applies). Never rejects.
   *
   * A host page whose CSP style-src does not allow our origin blocks the <link>; the sheet's text is then
   * fetched (connect-src must allow the endpoint for the questions anyway) and adopted as a constructable
   * sheet, which style-src does not govern.
   */
  function loadStyles(shadow, href) {
    return new Promise(function (resolve) {
      var timer = setTimeout(resolve, ASSET_TIMEOUT_MS);
      function done() {
        clearTimeout(timer);
        resolve();
      }
      var link = h("link", { rel: "stylesheet", href: href });
      link.addEventListener("load", done);
      link.addEventListener("error", function () {
        fetchAsset(href, "text").then(function (css) {
          var sheet = new CSSStyleSheet();
          sheet.replaceSync(css);
          shadow.adoptedStyleSheets = [sheet];
        }).catch(function () { /* unstyled but usable beats invisible */ }).then(done);
      });
      shadow.appendChild(link);
    });
  }

  // ---------------------------------------------------------------- DOM helpers, icons (paths drawn with the DOM)
  var ICONS = {
    chat: ["M21 15a2 2 0 0 1-2 2H7l-4 4V5a2 2 0 0 1 2-2h14a2 2 0 0 1 2 2z"],
    close: ["M18 6 6 18", "M6 6l12 12"],
    compose: ["M11 4H4a2 2 0 0 0-2 2v14a2 2 0 0 0 2 2h14a2 2 0 0 0 2-2v-7",
      "M18.5 2.5a2.12 2.12 0 0 1 3 3L12 15l-4 1 1-4 9.5-9.5z"],
    send: ["M22 2 11 13", "M22 2 15 22 11 13 2 9 22 2z"],
    up: ["M14 9V5a3 3 0 0 0-3-3l-4 9v11h11.28a2 2 0 0 0 2-1.7l1.38-9a2 2 0 0 0-2-2.3z",
      "M7 22H4a2 2 0 0 1-2-2v-7a2 2 0 0 1 2-2h3"],
    down: ["M10 15v4a3 3 0 0 0 3 3l4-9V2H5.72a2 2 0 0 0-2 1.7l-1.38 9a2 2 0 0 0 2 2.3z",
      "M17 2h2.67A2.31 2.31 0 0 1 22 4v7a2.31 2.31 0 0 1-2.33 2H17"],
    info: ["M12 22a10 10 0 1 0 0-20 10 10 0 0 0 0 20z", "M12 16v-4", "M12 8h.01"]
  };

  function icon(name, size) {
    var ns = "http://www.w3.org/2000/svg";
    var svg = document.createElementNS(ns, "svg");
    svg.setAttribute("viewBox", "0 0 24 24");
    svg.setAttribute("width", String(size || 20));
    svg.setAttribute("height", String(size || 20));
    svg.setAttribute("fill", "none");
    svg.setAttribute("stroke", "currentColor");
    svg.setAttribute("stroke-width", "2");
    svg.setAttribute("stroke-linecap", "round");
    svg.setAttribute("stroke-linejoin", "round");
    svg.setAttribute("aria-hidden", "true");
    svg.setAttribute("focusable", "false");
    ICONS[name].forEach(function (d) {
      var path = document.createElementNS(ns, "path");
      path.setAttribute("d", d);
      svg.appendChild(path);
    });
    return svg;
  }

  /** Creates an element; strings in `children` become text nodes, never markup. */
  function h(tag, attrs, children) {
    var el = document.createElement(tag);
    Object.keys(attrs || {}).forEach(function (key) {
      var value = attrs[key];
      if (value === null || value === undefined || value === false) return;
      if (key === "class") el.className = value;
      else if (key === "text") el.textContent = value;
      else if (key.slice(0, 2) === "on") el.addEventListener(key.slice(2), value);
      else el.setAttribute(key, value === true ? "" : String(value));
    });
    (children || []).forEach(function (child) {
      if (child === null || child === undefined || child === false) return;
      el.appendChild(typeof child === "string" ? document.createTextNode(child) : child);
    });
    return el;
  }

  // ---------------------------------------------------------------- accessibility and scrolling
  /** Says `text` through the polite live region, even when it repeats the previous announcement. */
  function announce(live, text) {
    live.textContent = "";
    // A fresh text node after a tick makes screen readers announce even a repeated answer.
    setTimeout(function () { live.textContent = text; }, 50);
  }

  var FOCUSABLE = "button, a[href], textarea, input, select, [tabindex]:not([tabindex='-1'])";

  /** Keeps Tab and Shift+Tab inside the open panel (a dialog): past the last control comes the first again. */
  function trapFocus(panel, shadow, e) {
    var items = Array.prototype.filter.call(panel.querySelectorAll(FOCUSABLE), function (el) {
      return !el.disabled && el.getClientRects().length > 0;
    });
    if (!items.length) return;
    var first = items[0];
    var last = items[items.length - 1];
    var active = shadow.activeElement;
    var inside = active && panel.contains(active);
    if (e.shiftKey && (!inside || active === first)) {
      e.preventDefault();
      focusQuietly(last);
    } else if (!e.shiftKey && (!inside || active === last)) {
      e.preventDefault();
      focusQuietly(first);
    }
  }

  /** Moves focus without scrolling the host page. */
  function focusQuietly(el) {
    el.focus({ preventScroll: true });
  }

  function scrollToEnd(list) {
    list.scrollTop = list.scrollHeight;
  }

  /** Brings a new answer's beginning into view when it is taller than the list (else shows the end). */
  function scrollToLastAnswer(list) {
    var answers = list.querySelectorAll(".msg-bot");
    var last = answers[answers.length - 1];
    if (last && last.offsetHeight > list.clientHeight - 24) list.scrollTop = last.offsetTop - 12;
    else scrollToEnd(list);
  }

  /** Scrolls the message list (only it, never the host page) so that `el` is in view. */
  function reveal(list, el) {
    var top = el.offsetTop;
    var bottom = top + el.offsetHeight;
    var view = list.clientHeight;
    if (bottom > list.scrollTop + view) list.scrollTop = Math.min(top - 8, bottom - view + 8);
    else if (top < list.scrollTop) list.scrollTop = top - 8;
  }

  /** Fits the textarea to its text, up to six lines or so. */
  function autoGrow(input) {
    input.style.height = "auto";
    input.style.height = Math.min(input.scrollHeight + 2, 132) + "px";
  }

  // ---------------------------------------------------------------- rendering
  // The functions below only build DOM. `view` is what they need from the widget: the texts `t`, the id
  // prefix `uid`, the message list `list`, and the actions ask(question), retry() and rate(m, rating).

  /** The panel and its launcher, with the handles the widget drives; `on` holds the buttons' actions. */
  function buildShell(t, title, uid, maxChars, on) {
    var ui = {};
    ui.launcher = h("button", {
      type: "button", class: "launcher", "data-testid": "launcher", "aria-expanded": "false",
      "aria-controls": uid + "-panel", "aria-label": fmt(t.openLauncher, { title: title }), onclick: on.toggle
    }, [icon("chat", 26)]);
    ui.list = h("div", {
      class: "messages", "data-testid": "messages", role: "region", "aria-label": t.conversation, tabindex: "0"
    });
    ui.input = h("textarea", {
      id: uid + "-input", class: "input", "data-testid": "input", rows: "1",
      maxlength: maxChars ? String(maxChars) : null, placeholder: t.placeholder,
      "aria-describedby": uid + "-counter", autocomplete: "off"
    });
    ui.send = h("button", {
      type: "button", class: "send", "data-testid": "send", "aria-label": t.send, title: t.send, onclick: on.submit
    }, [icon("send", 20)]);
    ui.counter = h("div", { id: uid + "-counter", class: "counter", "data-testid": "counter" });
    ui.live = h("div", { class: "sr-only", "aria-live": "polite", "aria-atomic": "true", "data-testid": "live" });
    ui.close = h("button", {
      type: "button", class: "icon-btn", "data-testid": "close", "aria-label": t.close, title: t.close,
      onclick: on.close
    }, [icon("close", 22)]);
    var newBtn = h("button", {
      type: "button", class: "icon-btn", "data-testid": "new-conversation", "aria-label": t.newConversation,
      title: t.newConversation, onclick: on.newConversation
    }, [icon("compose", 20)]);
    ui.panel = h("div", {
      id: uid + "-panel", class: "panel", role: "dialog", "aria-modal": "true", "aria-label": title,
      "data-testid": "panel", hidden: true
    }, [
      h("div", { class: "header" }, [h("h2", { class: "title", text: title }), newBtn, ui.close]),
      ui.list,
      h("div", { class: "composer" }, [
        h("label", { class: "sr-only", for: uid + "-input", text: t.inputLabel }),
        h("div", { class: "composer-row" }, [ui.input, ui.send]),
        ui.counter
      ]),
      ui.live
    ]);
    ui.root = h("div", { class: "root" }, [ui.panel, ui.launcher]);
    return ui;
  }

  /** Redraws the message list from the state: welcome and starters, or the messages; typing; the error. */
  function renderConversation(view, state) {
    var list = view.list;
    list.textContent = "";
    if (!state.messages.length) list.appendChild(renderEmpty(view, state.starters || []));
    state.messages.forEach(function (m, i) {
      list.appendChild(m.role === "user" ? renderQuestion(view.t, m) : renderAnswer(view, m, i));
    });
    if (state.busy) list.appendChild(renderTyping(view.t));
    if (state.error) list.appendChild(renderError(view, state.error));
  }

  function renderEmpty(view, starters) {
    var list = h("ul", { class: "starters", "aria-label": view.t.startersLabel });
    starters.forEach(function (q) {
      list.appendChild(h("li", {}, [h("button", {
        type: "button", class: "chip", "data-testid": "starter", onclick: function () { view.ask(q); }
      }, [q])]));
    });
    return h("div", { class: "empty", "data-testid": "empty" }, [h("p", { text: view.t.welcome }), list]);
  }

  function renderQuestion(t, m) {
    return h("div", { class: "msg msg-user", "data-testid": "msg-user", "data-speaker": t.you + ": " }, [m.text]);
  }

  /** An answer's bubble; `lang` says the answer's language to screen readers when the service gave it. */
  function renderAnswer(view, m, index) {
    var t = view.t;
    var passage = citationPanel(view, view.uid + "-cit-" + index);
    var body = h("div", { class: "answer-text" });
    appendBlocks(body, m.answer, function (el, text) {
      appendAnswerText(el, text, m.citations, function (c) {
        return passage.toggleFor(c, h("button", {
          type: "button", class: "marker", "data-testid": "citation-marker",
          "aria-label": sourceLabel(t, c), title: c.title
        }, [String(c.n)]));
      });
    });

    var children = [];
    if (m.abstained) {
      children.push(h("div", { class: "abstain-label", "data-testid": "not-covered" }, [
        icon("info", 16), t.notCovered
      ]));
    }
    if (m.notice) {
      children.push(h("p", { class: "notice", "data-testid": "notice" }, [
        icon("info", 16), h("span", { class: "sr-only", text: t.notice + ": " }), h("span", { text: m.notice })
      ]));
    }
    children.push(body);
    var meta = [];
    if (m.directorate) meta.push(renderBadge(t, m.directorate, false));
    if (m.secondary) meta.push(renderBadge(t, m.secondary, true));
    if (meta.length) children.push(h("div", { class: "meta" }, meta));
    if (m.citations.length) children.push(renderSources(t, m.citations, passage.toggleFor));
    children.push(passage.el);
    if (m.related.length) children.push(renderRelated(t, m.related));
    if (m.suggestions.length) children.push(renderSuggestions(view, m.suggestions));
    children.push(renderFeedback(view, m));

    return h("div", {
      class: "msg msg-bot " + (m.abstained ? "msg-abstain" : "msg-answer"),
      "data-testid": m.abstained ? "msg-abstain" : "msg-answer", "data-speaker": t.assistant + ": ",
      lang: m.language
    }, children);
  }

  /**
   * The one passage panel of an answer, opened and closed by any of its citation buttons; toggleFor(c, button)
   * wires a button to citation `c` and keeps every button's aria-expanded right.
   */
  function citationPanel(view, panelId) {
    var el = h("div", {
      id: panelId, class: "citation", "data-testid": "citation-panel", role: "region", hidden: true
    });
    var toggles = [];
    var shown = null;

    function sync() {
      toggles.forEach(function (b) { b.setAttribute("aria-expanded", String(b.dataset.n === String(shown))); });
    }
    function show(c, opener) {
      if (shown === c.n) {
        shown = null;
        el.hidden = true;
      } else {
        shown = c.n;
        fillCitation(view.t, el, c, function () {
          shown = null;
          el.hidden = true;
          sync();
          // The hide button goes with the panel: keep keyboard users where they were.
          focusQuietly(opener);
        });
        el.hidden = false;
        reveal(view.list, el);
      }
      sync();
    }
    function toggleFor(c, button) {
      button.dataset.n = String(c.n);
      button.setAttribute("aria-controls", panelId);
      button.setAttribute("aria-expanded", "false");
      button.addEventListener("click", function () { show(c, button); });
      toggles.push(button);
      return button;
    }
    return { el: el, toggleFor: toggleFor };
  }

  // A list item on its own line ("- cyber;", "• space") and the separators of a list run into one line
  // ("areas: - cyber; - space; - ..."): a dash counts only after a colon or semicolon, so "Counter Terrorism -
  // Countering" stays a sentence; a bullet counts anywhere.
  var ITEM_LINE = /^\s*[-\u2013\u2022\u25AA\u25E6*]\s+(\S.*)$/;
  var INLINE_ITEM = /([:;])\s+[-\u2013\u2022]\s+(?=\S)|\s+[\u2022\u25AA]\s+(?=\S)/g;

  /** A text cut into paragraphs and lists: [{list: false, text}] or [{list: true, items: [text, ...]}]. */
  function textBlocks(text) {
    var blocks = [];
    function item(t) {
      var last = blocks[blocks.length - 1];
      if (!last || !last.list) blocks.push(last = { list: true, items: [] });
      last.items.push(t);
    }
    str(text).split("\n").forEach(function (line) {
      var m = ITEM_LINE.exec(line);
      if (m) return item(m[1]);
      var parts = inlineItems(line);
      if (!parts) {
        if (line.trim()) blocks.push({ list: false, text: line });
        return;
      }
      if (parts.lead.trim()) blocks.push({ list: false, text: parts.lead });
      blocks.push({ list: true, items: [] });
      parts.items.forEach(item);
    });
    return blocks;
  }

  /** "lead: - a; - b; - c" as {lead: "lead:", items: ["a;", "b;", "c"]}, or null below two separators. Each
   *  separator's colon or semicolon stays with the text before it: only the dash goes. */
  function inlineItems(line) {
    var cuts = [];
    var m;
    INLINE_ITEM.lastIndex = 0;
    while ((m = INLINE_ITEM.exec(line)) !== null) {
      cuts.push({ at: m.index, keep: m[1] || "", end: m.index + m[0].length });
    }
    if (cuts.length < 2) return null;
    var pieces = [];
    var from = 0;
    cuts.forEach(function (c) {
      pieces.push(line.slice(from, c.at) + c.keep);
      from = c.end;
    });
    pieces.push(line.slice(from));
    return { lead: pieces[0], items: pieces.slice(1).filter(function (p) { return p.trim(); }) };
  }

  /** Fills `parent` with the paragraphs and lists of `text`, each piece's text put in by `fill(el, text)`. */
  function appendBlocks(parent, text, fill) {
    textBlocks(text).forEach(function (b) {
      if (!b.list) {
        var p = h("p", { class: "para" });
        fill(p, b.text);
        parent.appendChild(p);
        return;
      }
      var ul = h("ul", { class: "list", "data-testid": "list" });
      b.items.forEach(function (itemText) {
        var li = h("li");
        fill(li, itemText);
        ul.appendChild(li);
      });
      parent.appendChild(ul);
    });
  }

  function appendPlain(el, text) { el.appendChild(document.createTextNode(text)); }

  /** Splits the answer on [n] / [n, m] markers; known citations become buttons, the rest stays text. */
  function appendAnswerText(parent, text, citations, makeMarker) {
    var byN = {};
    citations.forEach(function (c) { byN[c.n] = c; });
    var pattern = /\[(\d{1,3}(?:\s*,\s*\d{1,3})*)\]/g;
    var last = 0;
    var match;
    while ((match = pattern.exec(text)) !== null) {
      var numbers = match[1].split(",").map(function (s) { return parseInt(s, 10); });
      if (!numbers.every(function (n) { return byN[n]; })) continue;
      parent.appendChild(document.createTextNode(text.slice(last, match.index)));
      numbers.forEach(function (n) { parent.appendChild(makeMarker(byN[n])); });
      last = match.index + match[0].length;
    }
    parent.appendChild(document.createTextNode(text.slice(last)));
  }

  /** One line per cited page, with a numbered button per passage: several passages often share a page. */
  function renderSources(t, citations, toggleFor) {
    var pages = [];
    citations.forEach(function (c) {
      var page = pages.filter(function (p) { return p.title === c.title; })[0];
      if (!page) pages.push(page = { title: c.title, citations: [] });
      page.citations.push(c);
    });
    return h("div", { class: "sources" }, [h("p", { class: "sources-label", text: t.sources })]
      .concat(pages.map(function (page) {
        var url = page.citations.map(function (c) { return c.url; }).filter(Boolean)[0];
        // The page's title opens the page; each numbered button opens its passage below the answer.
        var name = url
          ? h("a", { class: "source-title", href: url, target: "_blank", rel: "noopener noreferrer",
            title: page.title, "data-testid": "source-link" }, [page.title, newTabHint(t)])
          : h("span", { class: "source-title", title: page.title, text: page.title });
        return h("div", { class: "source-row" }, page.citations.map(function (c) {
          return toggleFor(c, h("button", {
            type: "button", class: "marker" + (c.role === "remit" ? " marker-remit" : ""),
            "data-testid": "citation-source", "aria-label": sourceLabel(t, c), title: c.section || c.title
          }, [String(c.n)]));
        }).concat([name]));
      })));
  }

  /** The accessible name of a citation's button: its number, page and, when added for that, the remit role. */
  function sourceLabel(t, c) {
    return fmt(t.showSource, { n: c.n, title: c.title }) + (c.role === "remit" ? " (" + t.remit + ")" : "");
  }

  /** Said to screen readers after a link's text: the link opens another tab. */
  function newTabHint(t) {
    return h("span", { class: "sr-only", text: " " + t.newTab });
  }

  /** A link that opens `href` in a new tab; its text, then (for screen readers) that it opens a new tab, unless
   *  `attrs` give it a whole aria-label. */
  function pageLink(t, href, text, attrs) {
    var hint = attrs && attrs["aria-label"] ? null : newTabHint(t);
    var a = h("a", { href: href, target: "_blank", rel: "noopener noreferrer" }, [text, hint]);
    Object.keys(attrs || {}).forEach(function (k) { a.setAttribute(k, attrs[k]); });
    return a;
  }

  /** "This page in: FR NL DE", the page's versions in the other languages (the page's own left out). */
  function renderTwins(t, c) {
    var others = LANGUAGES.filter(function (lang) { return c.twins[lang] && c.twins[lang] !== c.url; });
    if (!others.length) return null;
    return h("p", { class: "citation-twins", "data-testid": "citation-twins" }, [t.thisPageIn + ": "]
      .concat(others.map(function (lang) {
        return pageLink(t, c.twins[lang], lang.toUpperCase(), {
          hreflang: lang, "data-testid": "twin", "aria-label": LANGUAGE_NAMES[lang] + " " + t.newTab
        });
      })));
  }

  /** The passages the API offers apart from the citations: a short list, each opening its page. */
  function renderRelated(t, related) {
    var items = related.map(function (c) {
      var label = c.section ? c.title + " — " + c.section : c.title;
      var href = c.link || c.url;
      return h("li", { "data-testid": "related" }, [href ? pageLink(t, href, label) : label]);
    });
    return h("div", { class: "related" }, [
      h("p", { class: "sources-label", text: t.related }), h("ul", { class: "related-list" }, items)
    ]);
  }

  function fillCitation(t, el, c, onHide) {
    el.textContent = "";
    el.setAttribute("aria-label", sourceLabel(t, c));
    el.appendChild(h("div", { class: "citation-head" }, [
      h("p", { class: "citation-title", "data-testid": "citation-title" }, [
        h("span", { text: "[" + c.n + "] " }), c.title
      ]),
      h("button", {
        type: "button", class: "icon-btn", "aria-label": t.hideSource, title: t.hideSource, onclick: onHide
      }, [icon("close", 16)])
    ]));
    if (c.role === "remit") {
      el.appendChild(h("p", { class: "citation-role", "data-testid": "citation-role", text: t.remit }));
    }
    if (c.section) el.appendChild(h("p", { class: "citation-section", text: t.section + ": " + c.section }));
    var href = c.link || c.url || webAddress(c.source);
    if (href) {
      // Opens the page scrolled to the passage's sentence (a #:~:text= fragment) when the API gave one.
      el.appendChild(h("p", { class: "citation-source" }, [
        pageLink(t, href, t.openPassage, { "data-testid": "citation-link" })
      ]));
    } else if (c.source) {
      // Not a web address (a file, or javascript:, data: ...): plain text, never a link.
      el.appendChild(h("p", { class: "citation-source", text: c.source }));
    }
    var twins = renderTwins(t, c);
    if (twins) el.appendChild(twins);
    // Focusable: a long passage scrolls inside its box, and keyboard users must be able to scroll it too.
    var passage = h("div", { class: "citation-text", "data-testid": "citation-text", tabindex: "0" });
    appendBlocks(passage, c.text, appendPlain);
    el.appendChild(passage);
  }

  function renderBadge(t, d, secondary) {
    var conf = d.confidence === null ? null : fmt(t.confidence, { p: percent(d.confidence) });
    var label = (secondary ? t.secondary + ": " : t.directorate + ": ") + d.code + " " + d.name +
      (conf ? " (" + conf + ")" : "");
    return h("span", {
      class: "badge" + (secondary ? " badge-secondary" : ""), "data-testid": secondary ? "badge-secondary" : "badge",
      title: label
    }, [
      secondary ? h("span", { text: t.secondary + ":" }) : null,
      h("span", { class: "badge-code", text: d.code }),
      h("span", { text: d.name }),
      conf ? h("span", { class: "badge-conf", text: "(" + conf + ")" }) : null
    ]);
  }

  function renderSuggestions(view, suggestions) {
    return h("div", { class: "chips" }, [h("span", { class: "chips-label", text: view.t.suggestionsLabel + ":" })]
      .concat(suggestions.map(function (s) {
        return h("button", {
          type: "button", class: "chip", "data-testid": "suggestion", onclick: function () { view.ask(s); }
        }, [s]);
      })));
  }

  /** Thumbs up and down; view.rate(m, rating) sends the rating and resolves once it is recorded. */
  function renderFeedback(view, m) {
    var t = view.t;
    var note = h("span", { class: "feedback-note", role: "status", text: m.feedback ? t.thanks : null });
    var up = h("button", {
      type: "button", class: "thumb", "data-testid": "thumb-up", "aria-label": t.helpful, title: t.helpful,
      "aria-pressed": String(m.feedback === "up"), disabled: !!m.feedback
    }, [icon("up", 16)]);
    var down = h("button", {
      type: "button", class: "thumb", "data-testid": "thumb-down", "aria-label": t.notHelpful, title: t.notHelpful,
      "aria-pressed": String(m.feedback === "down"), disabled: !!m.feedback
    }, [icon("down", 16)]);

    function rate(rating, button) {
      up.disabled = down.disabled = true;
      view.rate(m, rating).then(function () {
        button.setAttribute("aria-pressed", "true");
        note.textContent = t.thanks;
      }, function () {
        up.disabled = down.disabled = false;
        note.textContent = t.feedbackFailed;
      });
    }
    up.addEventListener("click", function () { rate("up", up); });
    down.addEventListener("click", function () { rate("down", down); });
    return h("div", { class: "feedback" }, [up, down, note]);
  }

  function renderTyping(t) {
    return h("div", { class: "typing", "data-testid": "typing" }, [
      h("span", { class: "dot", "aria-hidden": "true" }), h("span", { class: "dot", "aria-hidden": "true" }),
      h("span", { class: "dot", "aria-hidden": "true" }), h("span", { class: "sr-only", text: t.typing })
    ]);
  }

  function renderError(view, err) {
    return h("div", { class: "error", "data-testid": "error", role: "alert" }, [
      h("p", { text: err.message }),
      err.retry ? h("button", {
        type: "button", class: "retry", "data-testid": "retry", onclick: function () { view.retry(); }
      }, [view.t.retry]) : null
    ]);
  }

  // ---------------------------------------------------------------- the widget
  /** Builds the widget into `shadow` and runs it: the state, the actions, and a redraw after each change. */
  function mountWidget(cfg, t, limits, shadow) {
    var title = cfg.title || t.title;
    var api = apiClient(cfg.endpoint, t);
    var saved = loadState();
    var state = {
      sessionId: saved ? saved.sessionId : null,
      messages: saved ? saved.messages : [],
      open: false,
      busy: false,
      starters: null, // loaded on first open
      error: null, // {message, retry, question}
      controller: null // aborts the pending question on "new conversation"
    };
    var uid = "dgm" + Math.random().toString(36).slice(2, 8);
    var maxChars = limits.maxChars;
    var ui = buildShell(t, title, uid, maxChars, {
      toggle: function () { toggle(); },
      submit: function () { submit(); },
      close: function () { close(true); },
      newConversation: function () { newConversation(); }
    });
    var view = { t: t, uid: uid, list: ui.list, ask: ask, retry: retry, rate: rate };
    shadow.appendChild(ui.root);

    ui.input.addEventListener("input", function () { autoGrow(ui.input); updateCounter(); });
    ui.input.addEventListener("keydown", function (e) {
      if (e.key === "Enter" && !e.shiftKey && !e.isComposing) {
        e.preventDefault();
        submit();
      }
    });
    shadow.addEventListener("keydown", function (e) {
      if (e.key === "Escape" && state.open) {
        e.preventDefault();
        close(true);
      } else if (e.key === "Tab" && state.open) {
        trapFocus(ui.panel, shadow, e);
      }
    });

    // -------------------------------------------------------------- open / close
    function open(focus) {
      state.open = true;
      ui.panel.hidden = false;
      ui.launcher.setAttribute("aria-expanded", "true");
      ui.launcher.setAttribute("aria-label", fmt(t.closeLauncher, { title: title }));
      ui.launcher.replaceChild(icon("close", 26), ui.launcher.firstChild);
      if (!state.messages.length) loadStarters();
      saveState(state);
      autoGrow(ui.input); // measures only once the panel is displayed
      scrollToEnd(ui.list);
      if (focus) focusQuietly(ui.input.disabled ? ui.close : ui.input);
    }

    function close(returnFocus) {
      state.open = false;
      ui.panel.hidden = true;
      ui.launcher.setAttribute("aria-expanded", "false");
      ui.launcher.setAttribute("aria-label", fmt(t.openLauncher, { title: title }));
      ui.launcher.replaceChild(icon("chat", 26), ui.launcher.firstChild);
      saveState(state);
      if (returnFocus) focusQuietly(ui.launcher);
    }

    function toggle() {
      if (state.open) close(true);
      else open(true);
    }

    // -------------------------------------------------------------- drawing the state
    function render() {
      renderConversation(view, state);
      ui.input.disabled = state.busy;
      ui.send.disabled = state.busy;
      ui.list.setAttribute("aria-busy", String(state.busy));
      Array.prototype.forEach.call(ui.list.querySelectorAll(".chip"), function (b) { b.disabled = state.busy; });
    }

    function updateCounter() {
      var n = ui.input.value.length;
      ui.counter.textContent = maxChars ? fmt(t.counter, { n: n, max: maxChars }) : fmt(t.counterNoMax, { n: n });
      ui.counter.classList.toggle("over", !!maxChars && n > maxChars);
    }

    function setInput(text) {
      ui.input.value = text;
      autoGrow(ui.input);
      updateCounter();
    }

    // -------------------------------------------------------------- actions
    function loadStarters() {
      if (state.starters !== null) return;
      state.starters = [];
      api.directorates().then(function (list) {
        state.starters = startersFrom(list);
        if (!state.messages.length) render();
      }, function () { /* no starters; the input still works */ });
    }

    function submit() {
      var question = ui.input.value.trim();
      if (!question || state.busy) return;
      ask(question);
    }

    function ask(question) {
      if (state.busy) return;
      var hadFocus = shadow.activeElement !== null;
      setInput("");
      state.messages.push({ role: "user", text: question });
      saveState(state);
      send(question, hadFocus);
    }

    function retry() {
      if (!state.error || state.busy) return;
      send(state.error.question, true);
    }

    function send(question, restoreFocus) {
      var controller = new AbortController();
      state.controller = controller;
      state.error = null;
      state.busy = true;
      render();
      scrollToEnd(ui.list);
      // The focused control was just disabled or re-rendered; park focus in the list so Escape still works.
      if (restoreFocus && state.open) focusQuietly(ui.list);
      api.ask(question, state.sessionId, controller.signal).then(function (body) {
        if (controller.signal.aborted) return;
        body = body || {};
        if (typeof body.session_id === "string" && body.session_id) state.sessionId = body.session_id;
        var m = answerMessage(question, body);
        state.messages.push(m);
        // Announced once, whole, when it has arrived (the live region is never filled piece by piece).
        announce(ui.live, t.announce + (m.notice ? m.notice + " " : "") + (m.abstained ? t.notCovered + ". " : "") +
          m.answer);
      }, function (err) {
        if (controller.signal.aborted || err.kind === "cancelled") return;
        var message = err.message || t.server;
        // A refusal of a question longer than the service's limit says the limit in the widget's language.
        if ((err.status === 413 || err.status === 422) && maxChars && question.length > maxChars) {
          message = fmt(t.tooLong, { max: maxChars.toLocaleString(cfg.lang) });
        }
        state.error = { message: message, retry: !!err.retry, question: question };
        if (!err.retry) {
          // The service refused this question (e.g. too long): give it back to edit, drop the bubble.
          var last = state.messages[state.messages.length - 1];
          if (last && last.role === "user" && last.text === question) state.messages.pop();
          setInput(question);
        }
      }).catch(function () {
        state.error = { message: t.server, retry: true, question: question }; // a rendering bug, not the network
      }).then(function () {
        if (controller.signal.aborted) return;
        state.controller = null;
        state.busy = false;
        saveState(state);
        render();
        if (state.error) scrollToEnd(ui.list);
        else scrollToLastAnswer(ui.list);
        if (restoreFocus && state.open) {
          var retryBtn = state.error && state.error.retry ? ui.list.querySelector("[data-testid='retry']") : null;
          focusQuietly(retryBtn || ui.input);
        }
      });
    }

    function rate(m, rating) {
      return api.feedback(state.sessionId, m, rating).then(function () {
        m.feedback = rating;
        saveState(state);
      });
    }

    function newConversation() {
      if (state.controller) state.controller.abort();
      state.controller = null;
      state.busy = false;
      state.error = null;
      state.sessionId = null;
      state.messages = [];
      saveState(state);
      setInput("");
      loadStarters();
      render();
      focusQuietly(ui.input);
    }

    // -------------------------------------------------------------- start
    updateCounter();
    render();
    if (cfg.open || (saved && saved.open)) open(false);
  }

  // ---------------------------------------------------------------- start
  /** The host element goes in at once, empty; the widget is built in it once its strings are at hand and
   *  its stylesheet applies, so nothing ever shows unstyled or in the wrong language. */
  function start(cfg) {
    if (document.querySelector(HOST_TAG)) return; // the script was included twice
    var host = document.createElement(HOST_TAG);
    host.id = "dgm-assistant-root";
    var shadow = host.attachShadow({ mode: "open" });
    (document.body || document.documentElement).appendChild(host);
    Promise.all([loadStrings(cfg.assets, cfg.lang), loadLimits(cfg.endpoint),
      loadStyles(shadow, cfg.assets + "widget.css")])
      .then(function (loaded) { mountWidget(cfg, loaded[0], loaded[1], shadow); });
  }

  var cfg = readConfig(findScript());
  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", function () { start(cfg); });
  } else {
    start(cfg);
  }
})();
