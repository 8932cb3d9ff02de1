// A file transfer's row in the files panel: direction, name, status, progress, and the
// actions its state allows (accept / decline an offer, cancel a running one, save a finished
// one). File and participant names are text, never HTML.

function el(tag, className = "") {
  const e = document.createElement(tag);
  if (className) e.className = className;
  return e;
}

export function fmtBytes(n) {
  if (n >= 1 << 20) return `${(n / (1 << 20)).toFixed(1)} MB`;
  if (n >= 1 << 10) return `${(n / (1 << 10)).toFixed(0)} KB`;
  return `${n} B`;
}

/**
 * Shows transfer `t` in `list` (a new row first, or its row updated); returns true when the
 * row is new. `actions`: nameOf(participant id), accept/decline/cancel(transfer id).
 */
export function renderTransfer(list, t, { nameOf, accept, decline, cancel }) {
  let row = list.querySelector(`li[data-transfer-id="${CSS.escape(t.id)}"]`);
  const fresh = !row;
  if (fresh) {
    row = document.createElement("li");
    row.dataset.testid = "transfer";
    row.dataset.transferId = t.id;
    const head = el("div", "transfer-head");
    head.append(el("span", "transfer-name"), el("span", "transfer-status"));
    const bar = el("progress");
    bar.max = 1;
    bar.value = 0;
    row.append(head, bar, el("div", "transfer-actions"));
    list.prepend(row);
  }
  row.className = `transfer ${t.status}`;
  row.dataset.status = t.status;
  row.dataset.direction = t.direction;
  row.dataset.sha256 = t.sha256;
  const arrow = t.direction === "sent" ? `→ ${nameOf(t.peer)}` : `← ${nameOf(t.peer)}`;
  row.querySelector(".transfer-name").textContent = `${arrow}: ${t.name}`;
  row.querySelector(".transfer-name").title = t.name;
  const label = t.status === "failed" ? `failed: ${t.reason}` : t.status;
  row.querySelector(".transfer-status").textContent = `${label} · ${fmtBytes(t.bytes)} / ${fmtBytes(t.size)}`;
  row.querySelector("progress").value = t.size ? t.bytes / t.size : t.status === "done" ? 1 : 0;
  const actions = row.querySelector(".transfer-actions");
  actions.replaceChildren();
  const button = (text, testid, onClick, cls = "") => {
    const b = document.createElement("button");
    b.type = "button";
    b.textContent = text;
    b.dataset.testid = testid;
    if (cls) b.className = cls;
    b.addEventListener("click", onClick);
    actions.append(b);
  };
  if (t.direction === "received" && t.status === "offered") {
    button("Accept", "transfer-accept", () => accept(t.id));
    button("Decline", "transfer-decline", () => decline(t.id), "danger");
  } else if (["offered", "sending", "receiving"].includes(t.status)) {
    button("Cancel", "transfer-cancel", () => cancel(t.id), "danger");
  }
  if (t.status === "done" && t.url) {
    const a = document.createElement("a");
    a.href = t.url;
    a.download = t.name;
    a.textContent = "Save file";
    a.dataset.testid = "transfer-download";
    actions.append(a);
  }
  return fresh;
}
