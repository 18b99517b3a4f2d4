// shopml dashboard: helpers shared by the pages. Every value from the API is put in the page as
// text (textContent), never as HTML, so ids, titles and reviews cannot inject markup.
"use strict";

const SHOP = (() => {
  const KEY = "shopml.apiKey";

  function headers() {
    const k = localStorage.getItem(KEY);
    return k ? { "X-API-Key": k } : {};
  }

  /** GET an API path; resolves to {ok, status, body} (never throws on HTTP errors). */
  async function api(path, params) {
    const url = new URL(path, location.origin);
    for (const [k, v] of Object.entries(params || {})) {
      if (v === undefined || v === null || v === "") continue;
      if (Array.isArray(v)) v.forEach((x) => url.searchParams.append(k, x));
      else url.searchParams.set(k, v);
    }
    let r;
    try {
      r = await fetch(url, { headers: headers() });
    } catch (e) {
      return { ok: false, status: 0, body: { error: "network", message: String(e) } };
    }
    let body;
    try { body = await r.json(); } catch (e) { body = { message: r.statusText }; }
    return { ok: r.ok, status: r.status, body };
  }

  /** POST a JSON body; resolves like {@link api}. */
  async function post(path, body) {
    let r;
    try {
      r = await fetch(new URL(path, location.origin), {
        method: "POST", headers: { "Content-Type": "application/json", ...headers() }, body: JSON.stringify(body),
      });
    } catch (e) {
      return { ok: false, status: 0, body: { error: "network", message: String(e) } };
    }
    let out;
    try { out = await r.json(); } catch (e) { out = { message: r.statusText }; }
    return { ok: r.ok, status: r.status, body: out };
  }

  /** An element with attributes and children (strings become text nodes). */
  function el(tag, attrs, ...children) {
    const node = document.createElement(tag);
    for (const [k, v] of Object.entries(attrs || {})) {
      if (v === undefined || v === null) continue;
      if (k === "class") node.className = v;
      else if (k === "text") node.textContent = v;
      else node.setAttribute(k, v);
    }
    for (const c of children.flat(Infinity)) {
      if (c === null || c === undefined) continue;
      node.append(c instanceof Node ? c : document.createTextNode(String(c)));
    }
    return node;
  }

  function fmt(v, digits) {
    if (v === null || v === undefined) return "—";
    if (typeof v === "number") {
      if (!Number.isFinite(v)) return "—";
      if (Number.isInteger(v)) return v.toLocaleString("en-US");
      const d = digits ?? (Math.abs(v) >= 100 ? 1 : Math.abs(v) >= 1 ? 3 : 4);
      return v.toLocaleString("en-US", { maximumFractionDigits: d });
    }
    if (typeof v === "boolean") return v ? "yes" : "no";
    if (typeof v === "object") return JSON.stringify(v);
    return String(v);
  }

  /** A table: columns are {key, label, num, cell(row) -> node|string}. */
  function table(columns, rows, attrs) {
    const head = el("tr", {}, columns.map((c) => el("th", { class: c.num ? "num" : null }, c.label ?? c.key)));
    const body = rows.map((row) => el("tr", {}, columns.map((c) => {
      const v = c.cell ? c.cell(row) : fmt(row[c.key]);
      return el("td", { class: c.num ? "num" : null }, v);
    })));
    return el("table", attrs || {}, el("thead", {}, head), el("tbody", {}, body));
  }

  /** The scalar fields of an object as a two-column table (nested objects as JSON). */
  function kv(obj, labels) {
    const rows = Object.entries(obj).filter(([k]) => !labels || k in labels);
    return el("table", { class: "kv" }, el("tbody", {}, rows.map(([k, v]) =>
      el("tr", {}, el("th", {}, labels ? labels[k] : k), el("td", { class: typeof v === "number" ? "num" : null }, fmt(v))))));
  }

  function notice(kind, tag, text) {
    return el("div", { class: "notice" + (kind === "error" ? " error" : "") }, el("span", { class: "tag" }, tag), text);
  }

  /** The answer of a panel whose call failed: "not trained" / "not available" / the error. */
  function failure(res, what) {
    const b = res.body || {};
    const msg = b.message || `HTTP ${res.status}`;
    if (res.status === 503) return notice("warn", "Not trained:", `${what}: ${msg}`);
    if (res.status === 401) return notice("error", "API key needed:", msg);
    return notice("error", `Error ${res.status}:`, msg);
  }

  function unavailable(what, why) {
    return notice("warn", "Not available:", `${what}. ${why}`);
  }

  function fill(id, ...nodes) {
    const node = document.getElementById(id);
    // a missing value (null, undefined) is left out, never printed as the text "null"
    node.replaceChildren(...nodes.flat(Infinity).filter((n) => n !== null && n !== undefined));
    return node;
  }

  const LAYOUT = {
    margin: { l: 50, r: 20, t: 30, b: 50 }, paper_bgcolor: "#fff", plot_bgcolor: "#fff",
    font: { size: 12 }, legend: { orientation: "h", y: -0.2 },
  };

  function plot(id, traces, layout) {
    if (layout && layout.height) document.getElementById(id).style.height = `${layout.height}px`;
    return Plotly.newPlot(id, traces, { ...LAYOUT, ...(layout || {}) }, { displaylogo: false, responsive: true });
  }

  // one colour per event type on every chart
  const COLOURS = {
    view: "#9f7aea", click: "#ed8936", add_to_cart: "#3182ce", remove_from_cart: "#e53e3e",
    purchase: "#38a169", search: "#718096", rating: "#d69e2e", wishlist: "#d53f8c",
  };

  /** Stacked daily bars, one trace per kind (a {dates, counts} series from the API). */
  function activity(id, series, title) {
    const kinds = Object.keys(series.counts);
    if (!series.dates.length) {
      fill(id, notice("warn", "No data:", "no dated events recorded"));
      return null;
    }
    const traces = kinds.map((k) => ({ type: "bar", name: k, x: series.dates, y: series.counts[k],
      marker: COLOURS[k] ? { color: COLOURS[k] } : undefined }));
    return plot(id, traces, { barmode: "stack", title: { text: title, font: { size: 13 } }, yaxis: { title: "events" } });
  }

  let spec = null;  // the OpenAPI document, fetched once per page
  /** The path of a capability that starts with ``prefix`` and has ``method`` ("any": any method); null if none. */
  async function endpoint(prefix, method) {
    spec = spec || fetch("/openapi.json").then((r) => (r.ok ? r.json() : { paths: {} }));
    const paths = (await spec).paths || {};
    const has = (ops) => (method === "any" ? Object.keys(ops).length > 0 : Boolean(ops[method || "get"]));
    const hit = Object.entries(paths).find(([p, ops]) => p.startsWith(prefix) && has(ops));
    return hit ? hit[0] : null;
  }

  /** Call a capability's GET path for one id: path parameters filled, else a query parameter. */
  async function callFor(path, name, id, extra) {
    const placeholder = `{${name}}`;
    if (path.includes(placeholder)) return api(path.replace(placeholder, encodeURIComponent(id)), extra);
    return api(path, { [name]: id, ...(extra || {}) });
  }

  /** An ISO timestamp as "YYYY-MM-DD HH:MM:SS" (UTC, as the API gives it). */
  function when(iso) {
    return iso ? iso.replace("T", " ").slice(0, 19) : null;
  }

  function param(name) {
    return new URLSearchParams(location.search).get(name);
  }

  function link(page, params, text) {
    const q = new URLSearchParams(params).toString();
    return el("a", { href: `/dashboard/${page}${q ? "?" + q : ""}` }, text);
  }

  /** The body of an entity page (customer, product): show the one named by ?key=..., or, when
   *  none is given, the first of the overview's most active ones with the others offered as
   *  links; the form reloads the page with the typed id. Marks the body loaded when done. */
  async function entityPage({ page, key, input: inputId, examples, show }) {
    const form = document.getElementById("pick");
    const input = document.getElementById(inputId);
    form.addEventListener("submit", (e) => {
      e.preventDefault();
      location.search = new URLSearchParams({ [key]: input.value.trim() }).toString();
    });
    let id = param(key);
    if (!id) {  // propose the most active ones
      const ov = await api("/v1/overview");
      if (ov.ok) fill("examples", "e.g. ", ov.body[examples].map((x) => [link(page, { [key]: x }, x), " "]));
      if (ov.ok && ov.body[examples].length) id = ov.body[examples][0];
    }
    if (id) { input.value = id; await show(id); }
    document.body.dataset.loaded = "true";
  }

  /** The header: navigation over every capability's pages (the server's nav.json). */
  function nav(active) {
    const links = el("nav", {});
    const docs = () => links.append(el("a", { href: "/docs" }, "API docs"));
    fetch("/dashboard/nav.json").then((r) => r.json()).then((pages) => {
      for (const [p, label] of pages) {
        links.append(el("a", { href: `/dashboard/${p}`, class: p === active ? "active" : null }, label));
      }
      docs();
    }).catch(docs);
    const header = el("header", {},
      el("div", { class: "brand" }, "shopml"),
      links,
      el("label", { class: "key" }, "API key",
        el("input", { id: "api-key", type: "password", placeholder: "only if the server needs one" })));
    document.body.prepend(header);
    const input = header.querySelector("#api-key");
    input.value = localStorage.getItem(KEY) || "";
    input.addEventListener("change", () => {
      if (input.value) localStorage.setItem(KEY, input.value);
      else localStorage.removeItem(KEY);
      location.reload();
    });
  }

  return { api, post, el, fmt, table, kv, notice, failure, unavailable, fill, plot, activity, endpoint, callFor, when, param, link, entityPage, nav };
})();
