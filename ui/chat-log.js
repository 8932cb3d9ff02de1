// The chat panel's log: messages as text (never HTML), the newest scrolled into view, and a
// bound on how many are kept.

/** Messages the log keeps; older ones are removed (a long call, or a chatty peer at its rate, must not grow the page without bound). */
export const MAX_CHAT_ENTRIES = 2000;

function append(log, div) {
  log.append(div);
  while (log.childElementCount > MAX_CHAT_ENTRIES) log.firstElementChild.remove();
  log.scrollTop = log.scrollHeight;
}

/** A line from the app itself ("bob joined", errors). */
export function appendSystem(log, text) {
  const div = document.createElement("div");
  div.className = "message system";
  div.textContent = text;
  append(log, div);
}

/** A system line with a button after its text (`label`, `onClick`), e.g. "Show in folder". */
export function appendSystemAction(log, text, label, onClick) {
  const div = document.createElement("div");
  div.className = "message system";
  div.textContent = text;
  const button = document.createElement("button");
  button.type = "button";
  button.className = "link-button";
  button.dataset.testid = "system-action";
  button.textContent = label;
  button.addEventListener("click", onClick);
  div.append(" ", button);
  append(log, div);
}

/** A chat message `{id, from, text, ts, mine}` from `fromName`. */
export function appendChat(log, { id, from, text, ts, mine }, fromName) {
  const div = document.createElement("div");
  div.className = `message${mine ? " mine" : ""}`;
  div.dataset.testid = "chat-entry";
  div.dataset.messageId = id;
  div.dataset.from = from;
  const time = document.createElement("span");
  time.className = "time";
  time.textContent = new Date(ts).toLocaleTimeString();
  const who = document.createElement("span");
  who.className = "from";
  who.textContent = mine ? "You" : fromName;
  const body = document.createElement("span");
  body.className = "text";
  body.textContent = text;
  div.append(time, who, body);
  append(log, div);
}
