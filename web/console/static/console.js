/* DealerOS staff console: the live queue, handoff actions, the customer journey and booking.
   Vanilla JS, no build step. Live updates come over WS /console/ws (no polling). */
(function () {
  "use strict";

  var meta = function (name) {
    var el = document.querySelector('meta[name="' + name + '"]');
    return el ? el.getAttribute("content") : "";
  };
  var TOKEN = meta("dos-token");
  var ME = meta("dos-staff");
  var ROLE = meta("dos-role");
  var PRIO = { urgent: 0, high: 1, normal: 2, low: 3 };
  var REASONS = {
    customer_request: "Asked for a person", complaint: "Complaint", legal: "Legal question",
    credit: "Credit / financing", hot_lead: "Hot lead", cannot_help: "AI couldn't help", other: "Follow-up"
  };
  var CHANNELS = { sms: "SMS", chat: "Chat", voice: "Phone", email: "Email", lead: "Lead" };

  function $(sel, root) { return (root || document).querySelector(sel); }
  function $all(sel, root) { return Array.prototype.slice.call((root || document).querySelectorAll(sel)); }
  function el(tag, attrs, children) {
    var node = document.createElement(tag);
    Object.keys(attrs || {}).forEach(function (k) {
      if (k === "text") node.textContent = attrs[k];
      else if (k === "class") node.className = attrs[k];
      else if (attrs[k] !== null && attrs[k] !== undefined && attrs[k] !== false) node.setAttribute(k, attrs[k]);
    });
    (children || []).forEach(function (c) { if (c) node.appendChild(typeof c === "string" ? document.createTextNode(c) : c); });
    return node;
  }
  function readJSON(id) {
    var node = document.getElementById(id);
    if (!node) return null;
    try { return JSON.parse(node.textContent); } catch (e) { return null; }
  }

  function api(path, method, body) {
    var opts = { method: method || "GET", headers: { Authorization: "Bearer " + TOKEN } };
    if (body !== undefined) {
      opts.headers["Content-Type"] = "application/json";
      opts.body = JSON.stringify(body);
    }
    return fetch(path, opts).then(function (res) {
      return res.text().then(function (text) {
        var data = null;
        try { data = text ? JSON.parse(text) : null; } catch (e) { data = { detail: text }; }
        if (res.status === 401) { window.location.href = "/console/login?next=" + encodeURIComponent(location.pathname); }
        if (!res.ok) {
          var d = data && data.detail;
          var msg = typeof d === "string" ? d : (d && d.error) || ("HTTP " + res.status);
          var err = new Error(msg);
          err.status = res.status;
          err.data = data;
          throw err;
        }
        return data;
      });
    });
  }

  function minutes(seconds) {
    var m = Math.max(0, Math.round(seconds / 60));
    if (m < 60) return m + " min";
    var h = Math.floor(m / 60);
    return h + " h " + (m % 60) + " min";
  }
  /* The wall-clock time written in an ISO 8601 string: the server sends the dealership's local time with
     its offset, and staff want that time whatever zone their own device is in. */
  function clock(iso) {
    var m = /T(\d{2}):(\d{2})/.exec(iso || "");
    if (!m) return "";
    var h = parseInt(m[1], 10);
    return (h % 12 || 12) + ":" + m[2] + " " + (h < 12 ? "AM" : "PM");
  }

  /* ---------------- handoff cards (queue and customer page) ---------------- */
  var handoffs = {};

  function card(h, opts) {
    opts = opts || {};
    var mine = h.status === "claimed" && h.assignee === ME;
    var name = (h.customer && h.customer.display) || h.customer_id;
    var waited = (Date.now() - new Date(h.opened_at).getTime()) / 1000;
    var head = el("div", { class: "head" }, [
      el("span", { class: "badge prio-" + h.priority, text: h.priority }),
      h.overdue ? el("span", { class: "badge overdue", text: "past SLA" }) : null,
      el("span", { class: "badge status", text: h.status === "claimed" ? "claimed" : "waiting" }),
      el("span", { class: "badge", text: CHANNELS[h.channel] || h.channel }),
      el("h3", {}, [opts.noLink ? document.createTextNode(name) : el("a", { href: "/console/customers/" + h.customer_id, text: name })]),
      el("span", { class: "wait", "data-opened": h.opened_at, text: "waiting " + minutes(waited) })
    ]);
    var who;
    if (h.status === "claimed") {
      who = el("p", { class: "who", text: mine ? "You own this conversation — the AI is silent." : "Claimed by " + (h.assignee_name || h.assignee) + " — the AI is silent." });
    } else {
      var s = h.route && h.route.assignee ? "Suggested: " + (h.suggested_name || h.route.assignee) + " (" + h.route.reason + ")" :
        (h.route ? "Queued for the " + h.route.team + " team (" + h.route.reason + ")" : "Team: " + h.team);
      who = el("p", { class: "who", text: s + (h.due_at ? " · reply due " + (h.due_label || clock(h.due_at)) : "") });
    }
    var actions = el("div", { class: "actions" });
    if (h.status === "open") {
      actions.appendChild(el("button", { type: "button", class: "primary", "data-action": "claim", text: "Claim" }));
    } else if (!mine && (ROLE === "manager" || ROLE === "admin")) {
      actions.appendChild(el("button", { type: "button", "data-action": "take-over", text: "Take over" }));
    }
    if (!opts.noLink) actions.appendChild(el("a", { class: "button", href: "/console/customers/" + h.customer_id, text: "Open journey" }));
    var node = el("article", {
      class: "ho prio-" + h.priority + " status-" + h.status, "data-id": h.id, "data-customer": h.customer_id,
      "aria-label": "Handoff: " + name
    }, [
      head,
      el("p", { class: "reason", text: (REASONS[h.reason] || h.reason) + " · " + h.team }),
      h.summary ? el("p", { class: "summary", text: h.summary }) : null,
      who, actions
    ]);
    if (mine) {
      var via = h.channel === "sms" ? "Text the customer" : h.channel === "chat" ? "Message the customer in chat" :
        "What to say on the callback (creates a callback task)";
      node.appendChild(el("form", { class: "reply" }, [
        el("textarea", { name: "text", rows: "2", maxlength: "1600", "aria-label": via, placeholder: via + "…" }),
        el("div", { class: "row" }, [
          el("button", { type: "submit", class: "primary", "data-action": "send", text: h.channel === "voice" ? "Request callback" : "Send" }),
          el("button", { type: "button", "data-action": "note", text: "Add note" }),
          el("button", { type: "button", "data-action": "release", text: "Hand back to AI" }),
          el("button", { type: "button", class: "danger", "data-action": "close", text: "Close" })
        ])
      ]));
    } else if (h.status !== "closed") {
      node.appendChild(el("details", { class: "note-only" }, [
        el("summary", { text: "Add a note" }),
        el("form", { class: "reply" }, [
          el("textarea", { name: "text", rows: "2", maxlength: "1600", "aria-label": "Internal note", placeholder: "Internal note for the team…" }),
          el("div", { class: "row" }, [el("button", { type: "button", "data-action": "note", text: "Save note" })])
        ])
      ]));
    }
    node.appendChild(el("p", { class: "flash", role: "status" }));
    return node;
  }

  function flash(node, text, good) {
    var f = $(".flash", node);
    if (!f) return;
    f.textContent = text;
    f.className = "flash " + (good ? "good" : "bad");
  }

  function act(node, action) {
    var id = node.getAttribute("data-id");
    var box = $("textarea", node);
    var text = box ? box.value.trim() : "";
    var call;
    if (action === "claim") call = api("/api/handoffs/" + id + "/claim", "POST", {});
    else if (action === "take-over") call = api("/api/handoffs/" + id + "/claim", "POST", { assignee: ME });
    else if (action === "send") {
      if (!text) { flash(node, "Write a message first."); return; }
      call = api("/api/handoffs/" + id + "/messages", "POST", { text: text }).then(function (r) {
        if (box) box.value = "";
        flash(node, r.via === "callback" ? "Callback task created." : "Sent by " + r.via + " (" + r.status + ").", true);
        return null;
      });
    } else if (action === "note") {
      if (!text) { flash(node, "Write the note first."); return; }
      call = api("/api/handoffs/" + id + "/notes", "POST", { text: text }).then(function (h) {
        if (box) box.value = "";
        flash(node, "Note added.", true);
        return h;
      });
    } else if (action === "release") call = api("/api/handoffs/" + id + "/release", "POST");
    else if (action === "close") call = api("/api/handoffs/" + id + "/close", "POST", text ? { resolution: text } : {});
    if (!call) return;
    $all("button", node).forEach(function (b) { b.disabled = true; });
    call.then(function (h) {
      $all("button", node).forEach(function (b) { b.disabled = false; });
      if (h && h.id) upsert(h);
    }).catch(function (err) {
      $all("button", node).forEach(function (b) { b.disabled = false; });
      flash(node, err.message);
    });
  }

  function bindActions(root) {
    root.addEventListener("click", function (e) {
      var btn = e.target.closest("button[data-action]");
      var node = btn && btn.closest(".ho");
      if (!node || btn.type === "submit") return;
      act(node, btn.getAttribute("data-action"));
    });
    root.addEventListener("submit", function (e) {
      var node = e.target.closest(".ho");
      if (!node) return;
      e.preventDefault();
      act(node, e.target.closest(".note-only") ? "note" : "send");
    });
  }

  function keepDraft(old, fresh) {
    var a = old && $("textarea", old), b = $("textarea", fresh);
    if (a && b && a.value) b.value = a.value;
    var d1 = old && $("details", old), d2 = $("details", fresh);
    if (d1 && d2 && d1.open) d2.open = true;
    return a && document.activeElement === a;
  }

  var queueRoot, panelRoot, watchCustomer;

  function upsert(h) {
    handoffs[h.id] = h;
    if (queueRoot) renderQueue();
    if (panelRoot && h.customer_id === watchCustomer) renderPanel(h);
  }

  function renderQueue() {
    var items = Object.keys(handoffs).map(function (k) { return handoffs[k]; }).filter(function (h) { return h.status !== "closed"; });
    items.sort(function (a, b) {
      return (PRIO[a.priority] - PRIO[b.priority]) || (new Date(a.opened_at) - new Date(b.opened_at));
    });
    var existing = {};
    $all(".ho", queueRoot).forEach(function (n) { existing[n.getAttribute("data-id")] = n; });
    var focusId = null, fresh = [];
    items.forEach(function (h) {
      var node = card(h);
      if (keepDraft(existing[h.id], node)) focusId = h.id;
      fresh.push(node);
    });
    queueRoot.replaceChildren.apply(queueRoot, fresh);
    if (focusId) { var t = $('.ho[data-id="' + focusId + '"] textarea', queueRoot); if (t) t.focus(); }
    var empty = $("#queue-empty");
    if (empty) empty.hidden = items.length > 0;
  }

  function renderPanel(h) {
    var old = $(".ho", panelRoot);
    if (!h || h.status === "closed") {
      panelRoot.replaceChildren(el("p", { class: "muted", text: h ? "Handoff " + (h.history && h.history.length && h.history[h.history.length - 1].event === "released" ? "handed back: the AI is answering again." : "closed.") : "" }));
      return;
    }
    var node = card(h, { noLink: true });
    var focused = keepDraft(old, node);
    panelRoot.replaceChildren(node);
    if (focused) $("textarea", node).focus();
  }

  /* ---------------- live socket ---------------- */
  function connect(params, onFrame) {
    var live = $("#live");
    var delay = 1000;
    function open() {
      var url = (location.protocol === "https:" ? "wss://" : "ws://") + location.host + "/console/ws?token=" +
        encodeURIComponent(TOKEN) + (params || "");
      var ws = new WebSocket(url);
      ws.onopen = function () { delay = 1000; if (live) { live.dataset.state = "live"; live.textContent = "Live"; } };
      ws.onmessage = function (e) { try { onFrame(JSON.parse(e.data)); } catch (err) { /* ignore */ } };
      ws.onclose = function () {
        if (live) { live.dataset.state = "down"; live.textContent = "Reconnecting…"; }
        setTimeout(open, delay);
        delay = Math.min(delay * 2, 15000);
      };
    }
    open();
  }

  function tickWaiting() {
    setInterval(function () {
      $all(".wait[data-opened]").forEach(function (n) {
        n.textContent = "waiting " + minutes((Date.now() - new Date(n.getAttribute("data-opened")).getTime()) / 1000);
      });
    }, 30000);
  }

  /* ---------------- pages ---------------- */
  function initQueue() {
    queueRoot = $("#queue");
    (readJSON("queue-data") || []).forEach(function (h) { handoffs[h.id] = h; });
    renderQueue();
    bindActions(queueRoot);
    connect("", function (f) {
      if (f.type === "snapshot") {
        handoffs = {};
        f.items.forEach(function (h) { handoffs[h.id] = h; });
        renderQueue();
      } else if (f.type === "handoff") {
        upsert(f.handoff);
      }
    });
    tickWaiting();
  }

  function journeyItem(ev) {
    var li = el("li", { class: "ev is-new ch-" + ev.channel + " dir-" + ev.direction + " kind-" + ev.kind, "data-channel": ev.channel, "data-id": ev.id }, [
      el("div", { class: "meta" }, [
        el("span", { class: "chan", text: ev.channel_label }),
        el("span", { class: "actor", text: ev.actor_label }),
        el("time", { datetime: ev.at, text: ev.when })
      ]),
      el("p", { class: "text", text: ev.text })
    ]);
    if (ev.details && ev.details.length) li.appendChild(el("p", { class: "details", text: ev.details.join(" · ") }));
    return li;
  }

  function applyFilter(list, filter) {
    $all(".ev", list).forEach(function (li) {
      var ch = li.getAttribute("data-channel");
      li.hidden = !(filter === "all" || ch === filter || (filter === "voice" && li.classList.contains("kind-call")));
    });
  }

  function initCustomer() {
    var root = $("#customer");
    watchCustomer = root.getAttribute("data-customer");
    panelRoot = $("#handoff-panel");
    var list = $("#journey");
    var filter = "all";
    list.scrollTop = list.scrollHeight;
    var h = readJSON("handoff-data");
    if (h) { handoffs[h.id] = h; renderPanel(h); }
    bindActions(panelRoot);
    $all(".chip").forEach(function (chip) {
      chip.addEventListener("click", function () {
        filter = chip.getAttribute("data-filter");
        $all(".chip").forEach(function (c) { c.setAttribute("aria-pressed", String(c === chip)); });
        applyFilter(list, filter);
      });
    });
    connect("&customer_id=" + encodeURIComponent(watchCustomer), function (f) {
      if (f.type === "handoff" && f.handoff.customer_id === watchCustomer) upsert(f.handoff);
      if (f.type === "timeline") {
        f.items.forEach(function (ev) {
          if (!$('[data-id="' + ev.id + '"]', list)) list.appendChild(journeyItem(ev));
        });
        $("#journey-empty").hidden = true;
        applyFilter(list, filter);
        list.scrollTop = list.scrollHeight;
      }
    });
    initBooking(root);
    tickWaiting();
  }

  function initBooking(root) {
    var form = $("#book-form");
    if (!form) return;
    var kinds = readJSON("kinds-data") || {};
    var status = $(".flash", form);
    var chosen = null;
    function fillKinds(selected) {
      var dept = form.department.value;
      form.kind.replaceChildren.apply(form.kind, (kinds[dept] || []).map(function (k) {
        return el("option", { value: k, selected: k === selected ? "selected" : null, text: k.replace(/_/g, " ") });
      }));
    }
    function say(text, good) { status.textContent = text; status.className = "flash " + (good ? "good" : "bad"); }
    function resetForm() {
      form.appointment_id.value = "";
      $("#book-title").textContent = "Book an appointment";
      form.department.disabled = false; form.kind.disabled = false;
      $(".slots", form).replaceChildren();
      chosen = null;
    }
    form.department.addEventListener("change", function () { fillKinds(); $(".slots", form).replaceChildren(); chosen = null; });
    fillKinds();
    form.addEventListener("click", function (e) {
      var btn = e.target.closest("button");
      if (!btn) return;
      if (btn.getAttribute("data-action") === "find-slots") {
        say("Looking…", true);
        var q = "?department=" + encodeURIComponent(form.department.value) + "&kind=" + encodeURIComponent(form.kind.value) +
          "&date=" + encodeURIComponent(form.date.value);
        api("/api/appointments/slots" + q).then(function (r) {
          chosen = null;
          var box = $(".slots", form);
          box.replaceChildren.apply(box, r.items.map(function (s) {
            return el("button", { type: "button", role: "radio", "aria-checked": "false", "data-slot": s.starts_at, text: clock(s.starts_at) });
          }));
          say(r.items.length ? "Pick a time." : "No open times that day.", r.items.length > 0);
        }).catch(function (err) { say(err.message); });
      } else if (btn.hasAttribute("data-slot")) {
        chosen = btn.getAttribute("data-slot");
        $all(".slots button", form).forEach(function (b) { b.setAttribute("aria-checked", String(b === btn)); });
        say("", true);
      } else if (btn.getAttribute("data-action") === "reset-book") {
        resetForm(); say("", true);
      }
    });
    form.addEventListener("submit", function (e) {
      e.preventDefault();
      if (!chosen) { say("Pick a time first."); return; }
      var apptId = form.appointment_id.value;
      var call = apptId ?
        api("/api/appointments/" + apptId + "/reschedule", "POST", { starts_at: chosen }) :
        api("/api/appointments", "POST", {
          customer_id: watchCustomer, department: form.department.value, kind: form.kind.value, starts_at: chosen,
          vin: form.vin.value.trim() || null, notes: form.notes.value.trim() || null
        });
      call.then(function () { say(apptId ? "Rescheduled." : "Booked.", true); window.location.reload(); })
        .catch(function (err) { say(err.message); });
    });
    root.addEventListener("click", function (e) {
      var btn = e.target.closest("[data-appointment] button[data-action]");
      if (!btn) return;
      var li = btn.closest("[data-appointment]");
      var id = li.getAttribute("data-appointment");
      if (btn.getAttribute("data-action") === "cancel") {
        if (!window.confirm("Cancel this appointment?")) return;
        api("/api/appointments/" + id + "/cancel", "POST", {}).then(function () { window.location.reload(); })
          .catch(function (err) { window.alert(err.message); });
      } else {
        form.appointment_id.value = id;
        form.department.value = btn.getAttribute("data-department");
        fillKinds(btn.getAttribute("data-kind"));
        form.department.disabled = true; form.kind.disabled = true;
        $("#book-title").textContent = "Move this appointment";
        $(".slots", form).replaceChildren();
        form.scrollIntoView({ behavior: "smooth", block: "start" });
      }
    });
  }

  document.addEventListener("DOMContentLoaded", function () {
    var page = document.body.getAttribute("data-page");
    if (page === "queue") initQueue();
    else if (page === "customer") initCustomer();
  });
})();
