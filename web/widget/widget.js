/*
 * DealerOS web chat widget. Embed on any page with one tag:
 *
 *   <script src="https://YOUR-DEALEROS-HOST/chat/widget.js" async></script>
 *
 * Optional data attributes on that tag: data-title, data-greeting, data-color, data-position="left".
 * A vehicle detail page may declare what it shows: <meta name="dealeros:stock" content="U24567">
 * (and/or dealeros:vin); otherwise the server reads the stock number from the page URL.
 *
 * Vanilla JS, no build step, no requests except the websocket to the server the script came from.
 * Everything renders inside a shadow root, so the host site's CSS and ours never meet.
 * Protocol: see channels/webchat.py.
 */
(function () {
  "use strict";
  if (window.DealerOSChat && window.DealerOSChat.loaded) return; // embedded twice

  // --- where we came from ---------------------------------------------------------------------
  var script = document.currentScript || (function () {
    var all = document.querySelectorAll('script[src*="widget.js"]');
    return all[all.length - 1] || null;
  })();
  var scriptSrc = (script && script.src) || new URL("/chat/widget.js", location.href).href;
  var wsBase = new URL("ws", scriptSrc); // .../chat/widget.js -> .../chat/ws
  wsBase.protocol = wsBase.protocol === "https:" ? "wss:" : "ws:";
  var data = (script && script.dataset) || {};
  var cfg = {
    title: data.title || "Chat with us",
    greeting: data.greeting || "Hi! Ask me about any vehicle, our hours, or booking a test drive.",
    color: /^#[0-9a-fA-F]{3,8}$/.test(data.color || "") ? data.color : "#c8102e",
    left: data.position === "left",
  };
  var NS = "dealeros:" + wsBase.host + ":";

  // --- storage (localStorage may be unavailable: private mode, sandboxed frames) -------------
  var memory = {};
  function load(key, fallback) {
    try {
      var raw = window.localStorage.getItem(NS + key);
      return raw === null ? fallback : JSON.parse(raw);
    } catch (e) {
      return Object.prototype.hasOwnProperty.call(memory, key) ? memory[key] : fallback;
    }
  }
  function save(key, value) {
    memory[key] = value;
    try { window.localStorage.setItem(NS + key, JSON.stringify(value)); } catch (e) { /* in memory only */ }
  }

  // --- first touch (kept across pages) and the current page (sent with every message) ---------
  var PARAMS = ["utm_source", "utm_medium", "utm_campaign", "utm_term", "utm_content", "gclid", "fbclid", "msclkid"];
  function firstTouch() {
    var source = load("source", null);
    if (source && source.landing_page) return source;
    var query = new URLSearchParams(location.search);
    source = { landing_page: location.href, referrer: document.referrer || "", first_seen_at: new Date().toISOString() };
    PARAMS.forEach(function (k) { var v = query.get(k); if (v) source[k] = v; });
    save("source", source);
    return source;
  }
  function metaContent(name) {
    var el = document.querySelector('meta[name="dealeros:' + name + '"]');
    return el ? el.getAttribute("content") : null;
  }
  function currentPage() {
    return {
      url: location.href, title: document.title || "", referrer: document.referrer || "",
      stock: metaContent("stock"), vin: metaContent("vin"),
    };
  }
  var source = firstTouch();

  // --- state ----------------------------------------------------------------------------------
  var visitorId = load("visitor", null);
  var pending = load("pending", []); // [{id, text, page}] sent but not answered yet
  var ws = null, ready = false, attempt = 0, retryTimer = null, pingTimer = null;
  var streams = {}; // reply_to -> streaming bubble
  var started = false;

  // --- DOM ------------------------------------------------------------------------------------
  var host = document.createElement("div");
  host.id = "dealeros-chat";
  host.setAttribute("data-dealeros", "widget");
  var root = host.attachShadow ? host.attachShadow({ mode: "open" }) : host;

  var STYLES = [
    ":host{all:initial}",
    "*{box-sizing:border-box;font-family:system-ui,-apple-system,'Segoe UI',Roboto,Helvetica,Arial,sans-serif}",
    ".dos{position:fixed;bottom:20px;" + (cfg.left ? "left" : "right") + ":20px;z-index:2147483000;color:#1d2430;font-size:15px;line-height:1.4}",
    ".dos-launcher{width:60px;height:60px;border-radius:50%;border:0;background:" + cfg.color + ";color:#fff;cursor:pointer;box-shadow:0 6px 20px rgba(0,0,0,.25);display:flex;align-items:center;justify-content:center}",
    ".dos-launcher:focus-visible,.dos button:focus-visible,.dos a:focus-visible,.dos textarea:focus-visible,.dos input:focus-visible{outline:3px solid #1a73e8;outline-offset:2px}",
    ".dos-launcher svg{width:28px;height:28px;fill:currentColor}",
    ".dos-panel{position:absolute;bottom:76px;" + (cfg.left ? "left" : "right") + ":0;width:370px;max-width:calc(100vw - 24px);height:min(600px,calc(100vh - 110px));background:#fff;border-radius:14px;box-shadow:0 12px 40px rgba(0,0,0,.28);display:flex;flex-direction:column;overflow:hidden}",
    ".dos-panel[hidden]{display:none}",
    ".dos-head{background:" + cfg.color + ";color:#fff;padding:12px 12px 12px 16px;display:flex;align-items:center;gap:8px}",
    ".dos-title{font-weight:600;flex:1;font-size:16px;margin:0}",
    ".dos-status{font-size:12px;opacity:.9}",
    ".dos-icon{background:transparent;border:0;color:#fff;cursor:pointer;font-size:20px;line-height:1;padding:4px 6px;border-radius:6px}",
    ".dos-icon:hover{background:rgba(255,255,255,.15)}",
    ".dos-log{flex:1;overflow-y:auto;padding:14px;display:flex;flex-direction:column;gap:8px;background:#f6f7f9}",
    ".dos-log>*{flex-shrink:0}",
    ".dos-msg{max-width:85%;padding:9px 12px;border-radius:14px;white-space:pre-wrap;word-wrap:break-word}",
    ".dos-customer{align-self:flex-end;background:" + cfg.color + ";color:#fff;border-bottom-right-radius:4px}",
    ".dos-assistant,.dos-staff{align-self:flex-start;background:#fff;border:1px solid #e3e6ea;border-bottom-left-radius:4px}",
    ".dos-staff{border-color:#9cc3ff}",
    ".dos-pending{opacity:.65}",
    ".dos-note{align-self:center;font-size:12px;color:#5b6472;text-align:center}",
    ".dos-error{color:#a10f1f}",
    ".dos-cards{display:flex;gap:8px;overflow-x:auto;padding:2px 0 6px;align-self:stretch}",
    ".dos-card{flex:0 0 200px;background:#fff;border:1px solid #e3e6ea;border-radius:10px;overflow:hidden;display:flex;flex-direction:column}",
    ".dos-card img{width:100%;height:112px;object-fit:cover;background:#dde1e6;display:block}",
    ".dos-card-body{padding:8px 10px;display:flex;flex-direction:column;gap:2px;flex:1}",
    ".dos-card-title{font-weight:600;font-size:14px;margin:0}",
    ".dos-card-price{font-weight:700;color:" + cfg.color + "}",
    ".dos-card-meta{font-size:12px;color:#5b6472}",
    ".dos-badge{align-self:flex-start;font-size:11px;background:#fff3cd;color:#6b5200;border-radius:4px;padding:1px 5px}",
    ".dos-card a{margin-top:6px;font-size:13px;color:#0b57d0;font-weight:600;text-decoration:none}",
    ".dos-card a:hover{text-decoration:underline}",
    ".dos-quick{display:flex;flex-wrap:wrap;gap:6px;padding:0 12px 8px;background:#f6f7f9}",
    ".dos-quick:empty{display:none}",
    ".dos-quick button{border:1px solid " + cfg.color + ";color:" + cfg.color + ";background:#fff;border-radius:16px;padding:6px 12px;font-size:14px;cursor:pointer}",
    ".dos-quick button:hover{background:" + cfg.color + ";color:#fff}",
    ".dos-typing{align-self:flex-start;display:flex;gap:4px;padding:10px 12px;background:#fff;border:1px solid #e3e6ea;border-radius:14px}",
    ".dos-typing[hidden]{display:none}",
    ".dos-typing span{width:7px;height:7px;border-radius:50%;background:#8a93a0;animation:dos-blink 1.2s infinite}",
    ".dos-typing span:nth-child(2){animation-delay:.2s}.dos-typing span:nth-child(3){animation-delay:.4s}",
    "@keyframes dos-blink{0%,80%,100%{opacity:.3}40%{opacity:1}}",
    ".dos-composer{display:flex;gap:8px;padding:10px;border-top:1px solid #e3e6ea;background:#fff}",
    ".dos-composer textarea{flex:1;resize:none;border:1px solid #c9ced6;border-radius:10px;padding:9px 10px;font-size:16px;max-height:120px;color:#1d2430;background:#fff}",
    ".dos-send{border:0;background:" + cfg.color + ";color:#fff;border-radius:10px;padding:0 14px;font-size:15px;font-weight:600;cursor:pointer}",
    ".dos-contact{padding:10px 12px;border-bottom:1px solid #e3e6ea;display:grid;gap:6px;background:#fff}",
    ".dos-contact[hidden]{display:none}",
    ".dos-contact label{font-size:12px;color:#5b6472;display:grid;gap:2px}",
    ".dos-contact input{border:1px solid #c9ced6;border-radius:8px;padding:7px 8px;font-size:16px;color:#1d2430}",
    ".dos-contact button{justify-self:start;border:0;background:" + cfg.color + ";color:#fff;border-radius:8px;padding:7px 12px;cursor:pointer}",
    ".dos-sr{position:absolute;width:1px;height:1px;overflow:hidden;clip:rect(0 0 0 0);white-space:nowrap}",
    "@media (max-width:480px){.dos{bottom:12px;" + (cfg.left ? "left" : "right") + ":12px}" +
      ".dos-panel{position:fixed;inset:0;width:100vw;max-width:none;height:100%;border-radius:0}" +
      ".dos-panel:not([hidden])+.dos-launcher{display:none}}",
    "@media (prefers-reduced-motion:reduce){.dos-typing span{animation:none}}",
  ].join("\n");

  var PLACEHOLDER = "data:image/svg+xml;charset=utf-8," + encodeURIComponent(
    '<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 200 112"><rect width="200" height="112" fill="#dde1e6"/>' +
    '<path d="M40 72h120l-6-18c-2-5-6-8-11-8H68c-5 0-9 3-11 8z" fill="#aab2bd"/>' +
    '<circle cx="68" cy="76" r="10" fill="#7d8793"/><circle cx="132" cy="76" r="10" fill="#7d8793"/></svg>');

  function el(tag, attrs, text) {
    var node = document.createElement(tag);
    if (attrs) Object.keys(attrs).forEach(function (k) {
      if (attrs[k] !== null && attrs[k] !== undefined && attrs[k] !== false) node.setAttribute(k, attrs[k]);
    });
    if (text !== undefined && text !== null) node.textContent = String(text);
    return node;
  }

  var style = el("style");
  style.textContent = STYLES;
  var wrap = el("div", { "class": "dos" });
  var panel = el("section", { "class": "dos-panel", id: "dos-panel", role: "dialog", "aria-label": cfg.title, hidden: "" });
  var head = el("header", { "class": "dos-head" });
  var title = el("h2", { "class": "dos-title" }, cfg.title);
  var status = el("span", { "class": "dos-status", role: "status", "aria-live": "polite" });
  var contactBtn = el("button", { type: "button", "class": "dos-icon dos-contact-toggle", "aria-label": "Share your contact details", "aria-expanded": "false", "aria-controls": "dos-contact", title: "Share your contact details" }, "\u260E");
  var closeBtn = el("button", { type: "button", "class": "dos-icon dos-close", "aria-label": "Close chat", title: "Close" }, "\u00D7");
  head.append(title, status, contactBtn, closeBtn);

  var contact = el("form", { "class": "dos-contact", id: "dos-contact", hidden: "", "aria-label": "Your contact details" });
  function field(label, name, type, autocomplete) {
    var l = el("label", null, label);
    var input = el("input", { name: name, type: type, autocomplete: autocomplete, maxlength: "100" });
    l.append(input);
    contact.append(l);
    return input;
  }
  var nameIn = field("Name", "name", "text", "name");
  var phoneIn = field("Mobile phone", "phone", "tel", "tel");
  var emailIn = field("Email", "email", "email", "email");
  contact.append(el("button", { type: "submit" }, "Save"));

  var log = el("div", { "class": "dos-log", role: "log", "aria-live": "polite", "aria-label": "Conversation", tabindex: "0" });
  var typing = el("div", { "class": "dos-typing", hidden: "", role: "status", "aria-label": "The assistant is typing" });
  typing.append(el("span"), el("span"), el("span"));
  log.append(typing); // stays last: bubbles are inserted before it
  var quick = el("div", { "class": "dos-quick", role: "group", "aria-label": "Suggested replies" });
  var composer = el("form", { "class": "dos-composer" });
  var inputLabel = el("label", { "class": "dos-sr", "for": "dos-input" }, "Type your message");
  var input = el("textarea", { id: "dos-input", rows: "1", maxlength: "2000", placeholder: "Type a message\u2026", autocomplete: "off" });
  var sendBtn = el("button", { type: "submit", "class": "dos-send", "aria-label": "Send message" }, "Send");
  composer.append(inputLabel, input, sendBtn);
  panel.append(head, contact, log, quick, composer);

  var launcher = el("button", { type: "button", "class": "dos-launcher", "aria-label": "Open chat: " + cfg.title, "aria-expanded": "false", "aria-controls": "dos-panel" });
  launcher.innerHTML = '<svg viewBox="0 0 24 24" aria-hidden="true" focusable="false"><path d="M4 4h16a2 2 0 0 1 2 2v10a2 2 0 0 1-2 2H8l-4 4V6a2 2 0 0 1 2-2z"/></svg>';
  wrap.append(panel, launcher);
  root.append(style, wrap);

  // --- rendering ------------------------------------------------------------------------------
  function scrollDown() { log.scrollTop = log.scrollHeight; }
  function nearBottom() { return log.scrollHeight - log.scrollTop - log.clientHeight < 160; }

  function bubble(role, text, extra) {
    var node = el("div", { "class": "dos-msg dos-" + role }, text);
    if (extra && extra.clientId) node.setAttribute("data-client-id", extra.clientId);
    if (extra && extra.pending) node.classList.add("dos-pending");
    log.insertBefore(node, typing);
    scrollDown();
    return node;
  }

  function note(text, isError) {
    var node = el("div", { "class": "dos-note" + (isError ? " dos-error" : ""), role: isError ? "alert" : null }, text);
    log.insertBefore(node, typing);
    scrollDown();
  }

  function safeUrl(u) {
    if (!u || typeof u !== "string") return null;
    try {
      var parsed = new URL(u, location.href);
      return parsed.protocol === "https:" || parsed.protocol === "http:" ? parsed.href : null;
    } catch (e) { return null; }
  }

  function money(n) {
    if (n === null || n === undefined || n === "") return "Call for price";
    var v = Number(n);
    if (!isFinite(v)) return "Call for price";
    try { return new Intl.NumberFormat("en-US", { style: "currency", currency: "USD", maximumFractionDigits: 0 }).format(v); }
    catch (e) { return "$" + Math.round(v); }
  }

  function renderCards(cards) {
    if (!cards || !cards.length) return;
    var row = el("div", { "class": "dos-cards", role: "list", "aria-label": "Vehicles" });
    cards.forEach(function (c) {
      var card = el("article", { "class": "dos-card", role: "listitem", "aria-label": c.title || "Vehicle" });
      var img = el("img", { alt: c.title ? "Photo of " + c.title : "Vehicle photo", loading: "lazy", width: "200", height: "112" });
      img.addEventListener("error", function () { img.src = PLACEHOLDER; }, { once: true });
      img.addEventListener("load", function () { if (nearBottom()) scrollDown(); });
      img.src = safeUrl(c.photo_url) || PLACEHOLDER;
      var body = el("div", { "class": "dos-card-body" });
      body.append(el("h3", { "class": "dos-card-title" }, c.title || "Vehicle"));
      body.append(el("div", { "class": "dos-card-price" }, money(c.price)));
      var meta = [];
      if (c.mileage !== null && c.mileage !== undefined) meta.push(Number(c.mileage).toLocaleString("en-US") + " mi");
      if (c.stock_number) meta.push("Stock #" + c.stock_number);
      if (meta.length) body.append(el("div", { "class": "dos-card-meta" }, meta.join(" \u00B7 ")));
      if (c.status && c.status !== "available") body.append(el("span", { "class": "dos-badge" }, String(c.status).replace("_", " ")));
      var href = safeUrl(c.vdp_url);
      if (href) body.append(el("a", { href: href, target: "_top", "aria-label": "View details: " + (c.title || "vehicle") }, "View details \u203A"));
      card.append(img, body);
      row.append(card);
    });
    log.insertBefore(row, typing);
    scrollDown();
  }

  function renderQuick(options) {
    quick.textContent = "";
    (options || []).slice(0, 6).forEach(function (label) {
      var b = el("button", { type: "button" }, label);
      b.addEventListener("click", function () { send(String(label)); });
      quick.append(b);
    });
    scrollDown(); // the log just got shorter or taller
  }

  function showTyping(on) {
    if (on) { typing.removeAttribute("hidden"); scrollDown(); } else typing.setAttribute("hidden", "");
  }

  function setStatus(text) { status.textContent = text; }

  // --- the conversation -----------------------------------------------------------------------
  function newId() { return "m" + Date.now().toString(36) + Math.random().toString(36).slice(2, 8); }

  function forget(id) {
    pending = pending.filter(function (p) { return p.id !== id; });
    save("pending", pending);
    var node = log.querySelector('[data-client-id="' + id + '"]'); // ids are [A-Za-z0-9_.:-]
    if (node) node.classList.remove("dos-pending");
  }

  function frameFor(p) {
    return { type: "message", id: p.id, text: p.text, page: p.page, source: source };
  }

  function transmit(obj) {
    if (ws && ready && ws.readyState === 1) { ws.send(JSON.stringify(obj)); return true; }
    return false;
  }

  function send(text) {
    text = String(text || "").trim();
    if (!text) return;
    var p = { id: newId(), text: text.slice(0, 2000), page: currentPage() };
    pending.push(p);
    save("pending", pending);
    renderQuick([]);
    bubble("customer", p.text, { clientId: p.id, pending: true });
    if (!transmit(frameFor(p))) connect();
  }

  function finish(replyTo) {
    var node = streams[replyTo || "_"];
    delete streams[replyTo || "_"];
    return node;
  }

  function onFrame(msg) {
    switch (msg.type) {
      case "session":
        visitorId = msg.visitor_id;
        save("visitor", visitorId);
        attempt = 0;
        setStatus("");
        break;
      case "history":
        renderHistory(msg.messages || []);
        ready = true;
        resendPending(msg.messages || []);
        break;
      case "typing":
        showTyping(true);
        break;
      case "token": {
        showTyping(false);
        var key = msg.reply_to || "_";
        var node = streams[key];
        if (!node) {
          node = bubble("assistant", "");
          node.setAttribute("aria-busy", "true");
          streams[key] = node;
        }
        node.textContent += msg.text;
        scrollDown();
        break;
      }
      case "message": {
        showTyping(false);
        var done = finish(msg.reply_to);
        if (done) { done.textContent = msg.text; done.removeAttribute("aria-busy"); }
        else bubble("assistant", msg.text);
        renderCards(msg.cards);
        renderQuick(msg.quick_replies);
        if (msg.reply_to) forget(msg.reply_to);
        break;
      }
      case "ack":
        showTyping(false);
        finish(msg.id);
        if (msg.id && msg.status !== "processing") forget(msg.id);
        if (msg.status === "handed_off") note("A member of our team will reply here shortly.");
        break;
      case "identified":
        contact.setAttribute("hidden", "");
        contactBtn.setAttribute("aria-expanded", "false");
        note("Thanks! We saved your contact details.");
        break;
      case "error":
        showTyping(false);
        if (msg.id) { finish(msg.id); forget(msg.id); }
        note(msg.error || "Something went wrong.", true);
        break;
      default:
        break;
    }
  }

  function renderHistory(messages) {
    Array.prototype.slice.call(log.children).forEach(function (child) { if (child !== typing) log.removeChild(child); });
    streams = {};
    bubble("assistant", cfg.greeting);
    var last = null;
    messages.forEach(function (m) {
      bubble(m.role === "customer" ? "customer" : m.role, m.text, { clientId: m.client_id });
      if (m.role !== "customer") renderCards(m.cards);
      last = m;
    });
    renderQuick(last && last.role !== "customer" ? last.quick_replies : []);
  }

  function resendPending(history) {
    var answered = {}, seen = {};
    history.forEach(function (m) {
      if (m.reply_to) answered[m.reply_to] = true;
      if (m.client_id) seen[m.client_id] = true;
    });
    pending = pending.filter(function (p) { return !answered[p.id]; });
    save("pending", pending);
    pending.forEach(function (p) {
      if (!seen[p.id]) bubble("customer", p.text, { clientId: p.id, pending: true });
      else {
        var node = log.querySelector('[data-client-id="' + p.id + '"]');
        if (node) node.classList.add("dos-pending");
      }
      transmit(frameFor(p)); // same id: the server replays instead of answering twice
    });
  }

  // --- the socket: connect, reconnect with backoff --------------------------------------------
  function connect() {
    if (ws && (ws.readyState === 0 || ws.readyState === 1)) return;
    clearTimeout(retryTimer);
    started = true;
    var url = new URL(wsBase.href);
    if (visitorId) url.searchParams.set("visitor_id", visitorId);
    var sock;
    try { sock = new WebSocket(url.href); } catch (e) { scheduleReconnect(); return; }
    ws = sock;
    ready = false;
    if (attempt > 0) setStatus("Reconnecting\u2026");
    sock.onmessage = function (ev) {
      var msg;
      try { msg = JSON.parse(ev.data); } catch (e) { return; }
      if (msg && typeof msg === "object") onFrame(msg);
    };
    sock.onopen = function () {
      clearInterval(pingTimer);
      pingTimer = setInterval(function () { transmit({ type: "ping" }); }, 25000);
    };
    sock.onclose = function () {
      if (ws !== sock) return;
      ready = false;
      clearInterval(pingTimer);
      showTyping(false);
      setStatus("Reconnecting\u2026");
      scheduleReconnect();
    };
    sock.onerror = function () { /* onclose follows */ };
  }

  function scheduleReconnect() {
    clearTimeout(retryTimer);
    var delay = Math.min(15000, 500 * Math.pow(2, attempt)) * (0.75 + Math.random() * 0.5);
    attempt += 1;
    retryTimer = setTimeout(connect, delay);
  }

  function reconnectNow() {
    if (!started) return;
    if (!ws || ws.readyState > 1) { attempt = 0; connect(); }
  }
  window.addEventListener("online", reconnectNow);
  document.addEventListener("visibilitychange", function () { if (!document.hidden) reconnectNow(); });

  // --- open / close, keyboard -----------------------------------------------------------------
  function open() {
    panel.removeAttribute("hidden");
    launcher.setAttribute("aria-expanded", "true");
    launcher.setAttribute("aria-label", "Close chat: " + cfg.title);
    save("open", true);
    if (!started) { renderHistory([]); connect(); }
    setTimeout(function () { input.focus(); }, 0);
    scrollDown();
  }
  function close() {
    panel.setAttribute("hidden", "");
    launcher.setAttribute("aria-expanded", "false");
    launcher.setAttribute("aria-label", "Open chat: " + cfg.title);
    save("open", false);
    launcher.focus();
  }
  launcher.addEventListener("click", function () { if (panel.hasAttribute("hidden")) open(); else close(); });
  closeBtn.addEventListener("click", close);
  panel.addEventListener("keydown", function (e) { if (e.key === "Escape") { e.stopPropagation(); close(); } });
  contactBtn.addEventListener("click", function () {
    var show = contact.hasAttribute("hidden");
    if (show) { contact.removeAttribute("hidden"); nameIn.focus(); } else contact.setAttribute("hidden", "");
    contactBtn.setAttribute("aria-expanded", show ? "true" : "false");
  });
  contact.addEventListener("submit", function (e) {
    e.preventDefault();
    var frame = { type: "identify" };
    if (nameIn.value.trim()) frame.name = nameIn.value.trim();
    if (phoneIn.value.trim()) frame.phone = phoneIn.value.trim();
    if (emailIn.value.trim()) frame.email = emailIn.value.trim();
    if (!frame.name && !frame.phone && !frame.email) { note("Enter a phone number or an email.", true); return; }
    if (!transmit(frame)) { note("Not connected yet; please try again in a moment.", true); connect(); }
  });
  composer.addEventListener("submit", function (e) {
    e.preventDefault();
    send(input.value);
    input.value = "";
    input.focus();
  });
  input.addEventListener("keydown", function (e) {
    if (e.key === "Enter" && !e.shiftKey && !e.isComposing) { e.preventDefault(); composer.requestSubmit ? composer.requestSubmit() : composer.dispatchEvent(new Event("submit")); }
  });

  function mount() {
    document.body.appendChild(host);
    if (load("open", false)) open();
    else if (pending.length && visitorId) { renderHistory([]); connect(); } // deliver what was left unsent
  }
  if (document.body) mount(); else document.addEventListener("DOMContentLoaded", mount);

  window.DealerOSChat = {
    loaded: true,
    open: open,
    close: close,
    send: function (text) { open(); send(text); },
    visitorId: function () { return visitorId; },
  };
})();
