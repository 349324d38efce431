// One WebSocket to `/api/events` (the session cookie authenticates it; the daemon checks
// Origin), reconnecting with backoff. Handlers get each parsed message; `onResync` is called
// after a reconnect or a "resync" message, when changes may have been missed.

export function subscribe(onMessage, { onResync = () => {}, onState = () => {} } = {}) {
  let delay = 500;
  let socket = null;
  let stopped = false;
  let opened = false;

  function connect() {
    const scheme = window.location.protocol === "https:" ? "wss:" : "ws:";
    socket = new WebSocket(`${scheme}//${window.location.host}/api/events`);
    socket.addEventListener("open", () => {
      delay = 500;
      onState(true);
      if (opened) onResync();
      opened = true;
    });
    socket.addEventListener("message", (event) => {
      let message;
      try {
        message = JSON.parse(event.data);
      } catch {
        return;
      }
      if (message.type === "heartbeat") return;
      if (message.type === "resync") {
        onResync();
        return;
      }
      onMessage(message);
    });
    socket.addEventListener("close", (event) => {
      onState(false);
      // 4401: the session ended; reconnecting cannot help.
      if (stopped || event.code === 4401 || event.code === 4403) return;
      setTimeout(connect, delay);
      delay = Math.min(delay * 2, 15000);
    });
  }

  connect();
  return () => {
    stopped = true;
    socket?.close();
  };
}

const FINAL = new Set(["succeeded", "failed", "cancelled", "timed_out", "skipped", "errored"]);
export function isFinal(status) {
  return FINAL.has(status);
}

export function setStatus(element, status) {
  element.className = element.className.replace(/\bstatus-[a-z_]+/g, "").trim() + ` status-${status}`;
  element.dataset.status = status;
  element.textContent = status.replaceAll("_", " ");
}

export function formatDuration(seconds) {
  if (seconds === null || seconds === undefined) return "–";
  if (seconds < 10) return `${seconds.toFixed(1)}s`;
  const whole = Math.round(seconds);
  if (whole < 60) return `${whole}s`;
  const minutes = Math.floor(whole / 60);
  if (minutes < 60) return `${minutes}m ${String(whole % 60).padStart(2, "0")}s`;
  return `${Math.floor(minutes / 60)}h ${String(minutes % 60).padStart(2, "0")}m`;
}
