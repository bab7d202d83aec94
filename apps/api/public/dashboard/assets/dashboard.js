// taskq dashboard: plain browser JavaScript, no build step. Data comes from the HTTP API
// (GET /jobs, /stats, /job-types), live changes from the WebSocket /ws (subscribed to
// everything); the page never reloads itself.
"use strict";

(function dashboard() {
  const STATUSES = ["PENDING", "RUNNING", "DONE", "FAILED", "CANCELLED"];
  const TABLE_ROWS = 50;
  const STATS_MINUTES = 15;
  const STATS_REFRESH_MS = 5000;

  // With API keys on, the page is opened once as /dashboard?api_key=…: the server exchanges the
  // key for an HttpOnly session cookie and drops it from the URL. Every call below (same
  // origin) and the WebSocket carry that cookie; the page never sees the key.
  const state = {
    jobs: new Map(), // id → job resource, the rows on screen
    filter: { status: "", type: "" },
    selected: null,
    detail: null, // the job resource the detail view shows
    socket: null,
    reconnectMs: 500,
    statsTimer: null,
    statsDue: false,
    renderDue: false,
    flash: new Set(),
  };

  const $ = (id) => document.getElementById(id);
  const el = (tag, props, children) => {
    const node = document.createElement(tag);
    Object.assign(node, props || {});
    for (const child of children || []) node.append(child);
    return node;
  };

  async function api(method, path) {
    const res = await fetch(path, { method, credentials: "same-origin" });
    const body = res.status === 204 ? null : await res.json();
    if (res.status === 401) showNotice("This server needs an API key, or the session has ended: open the page as /dashboard?api_key=<key>.");
    if (!res.ok) {
      const error = new Error((body && (body.detail || body.title)) || res.statusText);
      error.status = res.status;
      throw error;
    }
    return body;
  }

  function showNotice(text) {
    const notice = $("notice");
    notice.textContent = text;
    notice.hidden = !text;
  }

  // ---- counts and charts (GET /stats) ----

  async function refreshStats() {
    state.statsDue = false;
    try {
      const stats = await api("GET", "/stats?minutes=" + STATS_MINUTES);
      renderCounts(stats.counts);
      renderCharts(stats);
    } catch (error) {
      showNotice("Could not load statistics: " + error.message);
    }
  }

  /** Live updates ask for fresh numbers; at most one refresh per second follows. */
  function statsSoon() {
    if (state.statsDue) return;
    state.statsDue = true;
    setTimeout(refreshStats, 1000);
  }

  function renderCounts(counts) {
    $("counts").replaceChildren(
      ...STATUSES.map((s) => {
        const card = el("div", { className: "count" }, [el("b", { textContent: String(counts[s]) }), el("span", { textContent: s })]);
        card.dataset.status = s;
        card.style.setProperty("--c", "var(--" + s + ")");
        return card;
      }),
    );
  }

  function renderCharts(stats) {
    const minutes = stats.minutes;
    const f = stats.finished;
    $("throughput-total").textContent = "· " + f.total + " in " + stats.window_minutes + " min (" + f.per_minute + "/min)";
    $("latency-total").textContent = f.avg_run_ms === null ? "" : "· run " + fmtMs(f.avg_run_ms) + ", queue " + fmtMs(f.avg_queue_ms);
    bars($("chart-throughput"), minutes, [
      { cls: "bar", value: (m) => m.done + m.cancelled },
      { cls: "bar failed", value: (m) => m.failed },
    ], (m) => m.start.slice(11, 16) + ": " + m.done + " done, " + m.failed + " failed, " + m.cancelled + " cancelled");
    bars($("chart-latency"), minutes, [
      { cls: "run", value: (m) => m.avg_run_ms || 0 },
      { cls: "queue", value: (m) => m.avg_queue_ms || 0 },
    ], (m) => m.start.slice(11, 16) + ": run " + fmtMs(m.avg_run_ms) + ", queue " + fmtMs(m.avg_queue_ms));
  }

  /** Stacked bars, one per minute, drawn as SVG rectangles. */
  function bars(svg, minutes, series, title) {
    const NS = "http://www.w3.org/2000/svg";
    const max = Math.max(1, ...minutes.map((m) => series.reduce((n, s) => n + s.value(m), 0)));
    const width = 300 / minutes.length;
    svg.replaceChildren();
    minutes.forEach((m, i) => {
      let y = 80;
      const group = document.createElementNS(NS, "g");
      const tip = document.createElementNS(NS, "title");
      tip.textContent = title(m);
      group.append(tip);
      for (const s of series) {
        const h = (s.value(m) / max) * 76;
        y -= h;
        const rect = document.createElementNS(NS, "rect");
        rect.setAttribute("class", s.cls);
        rect.setAttribute("x", String(i * width + 1));
        rect.setAttribute("y", String(y));
        rect.setAttribute("width", String(Math.max(1, width - 2)));
        rect.setAttribute("height", String(h));
        group.append(rect);
      }
      svg.append(group);
    });
  }

  // ---- the jobs table (GET /jobs, then live) ----

  async function loadJobs() {
    const query = new URLSearchParams({ limit: String(TABLE_ROWS) });
    if (state.filter.status) query.set("status", state.filter.status);
    if (state.filter.type) query.set("type", state.filter.type);
    const page = await api("GET", "/jobs?" + query);
    state.jobs = new Map(page.items.map((j) => [j.id, j]));
    renderTable();
  }

  // Updates can arrive out of order (an HTTP answer after a later WebSocket update, or across
  // reconnects): a view keeps the newest state it has seen of a job.
  const isStale = (shown, job) => shown !== undefined && shown !== null && shown.id === job.id && shown.updated_at > job.updated_at;

  const matches = (job) => (!state.filter.status || job.status === state.filter.status) && (!state.filter.type || job.type === state.filter.type);

  function upsert(job) {
    const known = state.jobs.has(job.id);
    if (matches(job)) {
      if (isStale(state.jobs.get(job.id), job)) return;
      state.jobs.set(job.id, job);
    } else if (known) {
      state.jobs.delete(job.id);
    } else {
      return;
    }
    state.flash.add(job.id);
    // A busy queue sends hundreds of updates a second: draw at most once per frame.
    if (state.renderDue) return;
    state.renderDue = true;
    requestAnimationFrame(() => {
      state.renderDue = false;
      renderTable();
    });
  }

  function renderTable() {
    const flash = state.flash;
    state.flash = new Set();
    const sorted = [...state.jobs.values()].sort((a, b) => (a.created_at < b.created_at ? 1 : a.created_at > b.created_at ? -1 : a.id < b.id ? 1 : -1));
    for (const job of sorted.slice(TABLE_ROWS)) state.jobs.delete(job.id);
    const rows = sorted.slice(0, TABLE_ROWS).map((job) => {
      const tr = el("tr", {}, [
        el("td", {}, [el("code", { textContent: job.id.slice(0, 8), title: job.id })]),
        el("td", { textContent: job.type }),
        el("td", {}, [statusBadge(job.status)]),
        el("td", {}, [progressBar(job)]),
        el("td", { textContent: job.attempts + "/" + job.max_attempts }),
        el("td", { textContent: fmtTime(job.created_at) }),
        el("td", { textContent: runTime(job) }),
      ]);
      tr.dataset.jobId = job.id;
      tr.dataset.status = job.status;
      if (job.id === state.selected) tr.classList.add("selected");
      if (flash.has(job.id)) tr.classList.add("flash");
      tr.addEventListener("click", () => select(job.id));
      return tr;
    });
    $("jobs").tBodies[0].replaceChildren(...rows);
    $("job-count").textContent = rows.length + " most recent";
  }

  function statusBadge(status) {
    const span = el("span", { className: "status", textContent: status });
    span.style.setProperty("--c", "var(--" + status + ")");
    return span;
  }

  function progressBar(job) {
    const p = job.progress;
    if (typeof p !== "number") return el("span", { className: "muted", textContent: p === null || p === undefined ? "" : JSON.stringify(p) });
    const pct = job.status === "DONE" ? 100 : Math.max(0, Math.min(100, p));
    const bar = el("span", { className: "progress", title: pct + "%" }, [el("i")]);
    bar.firstChild.style.width = pct + "%";
    return bar;
  }

  // ---- the detail view ----

  async function select(id) {
    state.selected = id;
    renderTable();
    $("action-result").textContent = "";
    try {
      renderDetail(await api("GET", "/jobs/" + id));
    } catch (error) {
      $("action-result").textContent = error.message;
    }
  }

  function renderDetail(job) {
    if (isStale(state.detail, job)) return;
    state.detail = job;
    $("detail").hidden = false;
    $("detail").dataset.jobId = job.id;
    $("detail").dataset.status = job.status;
    $("detail-title").textContent = job.type + " · " + job.id;
    const fields = [
      ["Status", statusBadge(job.status)],
      ["Progress", job.progress === null ? "—" : typeof job.progress === "number" ? job.progress + "%" : JSON.stringify(job.progress)],
      ["Attempts", job.attempts + " of " + job.max_attempts],
      ["Priority", String(job.priority)],
      ["Timeout", fmtMs(job.timeout_ms)],
      ["Created", fmtTime(job.created_at)],
      ["Run at", fmtTime(job.run_at)],
      ["Started", fmtTime(job.started_at)],
      ["Finished", fmtTime(job.finished_at)],
      ["Queue time", job.started_at ? fmtMs(Date.parse(job.started_at) - Date.parse(job.run_at)) : "—"],
      ["Run time", runTime(job) || "—"],
    ];
    $("detail-fields").replaceChildren(...fields.flatMap(([k, v]) => [el("dt", { textContent: k }), el("dd", {}, [v])]));
    $("detail-payload").textContent = JSON.stringify(job.payload, null, 2);
    $("detail-result").textContent = job.result === null ? "—" : JSON.stringify(job.result, null, 2);
    $("detail-error").textContent = job.error === null ? "—" : JSON.stringify(job.error, null, 2);
    $("detail-history").textContent = job.error_history.length === 0 ? "—" : JSON.stringify(job.error_history, null, 2);
    $("cancel-job").disabled = !(job.status === "PENDING" || job.status === "RUNNING") || job.cancel_requested;
    $("retry-job").disabled = !(job.status === "FAILED" || job.status === "CANCELLED");
  }

  async function act(verb) {
    const id = state.selected;
    if (!id) return;
    $("action-result").textContent = verb + "…";
    try {
      const job = await api("POST", "/jobs/" + id + "/" + verb);
      $("action-result").textContent = verb === "cancel" && job.status === "RUNNING" ? "cancel requested" : verb + " accepted";
      upsert(job);
      if (state.selected === job.id) renderDetail(job);
    } catch (error) {
      $("action-result").textContent = error.message;
    }
  }

  // ---- live updates (WebSocket /ws) ----

  function connect() {
    const url = new URL("/ws", location.href);
    url.protocol = location.protocol === "https:" ? "wss:" : "ws:";
    const socket = new WebSocket(url);
    state.socket = socket;
    setConnection("connecting", "connecting…");
    socket.addEventListener("open", () => {
      socket.send(JSON.stringify({ op: "subscribe", all: true }));
    });
    socket.addEventListener("message", (event) => {
      const message = JSON.parse(event.data);
      if (message.event === "subscribed") {
        state.reconnectMs = 500;
        setConnection("live", "live");
        // Whatever happened while we were away: read the table again once we are subscribed.
        loadJobs().catch((error) => showNotice("Could not load jobs: " + error.message));
        refreshStats();
      } else if (message.event === "job.updated") {
        upsert(message.job);
        if (state.selected === message.job.id) renderDetail(message.job);
        statsSoon();
      } else if (message.event === "error") {
        showNotice("Live updates: " + message.error.detail);
      }
    });
    socket.addEventListener("close", (event) => {
      setConnection("disconnected", "disconnected" + (event.reason ? ": " + event.reason : "") + " — retrying");
      setTimeout(connect, state.reconnectMs);
      state.reconnectMs = Math.min(10000, state.reconnectMs * 2);
    });
  }

  function setConnection(stateName, text) {
    const badge = $("connection");
    badge.dataset.state = stateName;
    badge.textContent = text;
  }

  // ---- formatting ----

  function fmtMs(ms) {
    if (ms === null || ms === undefined) return "—";
    if (ms < 1000) return Math.round(ms) + " ms";
    if (ms < 60000) return (ms / 1000).toFixed(1) + " s";
    return (ms / 60000).toFixed(1) + " min";
  }

  function fmtTime(iso) {
    return iso ? new Date(iso).toLocaleTimeString() : "—";
  }

  function runTime(job) {
    if (!job.started_at) return "";
    const end = job.finished_at ? Date.parse(job.finished_at) : Date.now();
    return fmtMs(end - Date.parse(job.started_at));
  }

  // ---- start ----

  async function start() {
    for (const s of STATUSES) $("filter-status").append(el("option", { value: s, textContent: s }));
    $("filters").addEventListener("change", () => {
      state.filter = { status: $("filter-status").value, type: $("filter-type").value };
      loadJobs().catch((error) => showNotice("Could not load jobs: " + error.message));
    });
    $("cancel-job").addEventListener("click", () => act("cancel"));
    $("retry-job").addEventListener("click", () => act("retry"));
    $("detail-close").addEventListener("click", () => {
      state.selected = null;
      state.detail = null;
      $("detail").hidden = true;
      renderTable();
    });
    try {
      const types = await api("GET", "/job-types");
      for (const t of types.items) $("filter-type").append(el("option", { value: t.type, textContent: t.type }));
    } catch (error) {
      showNotice("Could not load job types: " + error.message);
    }
    connect();
    state.statsTimer = setInterval(refreshStats, STATS_REFRESH_MS);
  }

  start();
})();
