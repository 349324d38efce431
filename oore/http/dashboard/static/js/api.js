// Same-origin calls to Oore's API from the pages: the session cookie authenticates them, and
// every state-changing call carries the session's CSRF token (from <meta name="csrf-token">).

export function csrfToken() {
  const meta = document.querySelector('meta[name="csrf-token"]');
  return meta ? meta.content : "";
}

export function post(url, body) {
  return send("POST", url, body);
}

export function put(url, body) {
  return send("PUT", url, body);
}

// A state-changing call with a JSON body; a refusal throws an Error with the API's message
// (and the API's whole error object as `error.detail`: code, field).
export async function send(method, url, body) {
  const response = await fetch(url, {
    method,
    credentials: "same-origin",
    headers: {
      "X-CSRF-Token": csrfToken(),
      "Content-Type": "application/json",
      Accept: "application/json",
    },
    body: JSON.stringify(body ?? {}),
  });
  const answer = await response.json().catch(() => ({}));
  if (!response.ok) {
    const message = answer.error?.message ?? `${response.status} ${response.statusText}`;
    throw Object.assign(new Error(message), { status: response.status, detail: answer.error ?? null });
  }
  return answer;
}

export async function getJson(url) {
  const response = await fetch(url, { credentials: "same-origin", headers: { Accept: "application/json" } });
  if (!response.ok) throw new Error(`${response.status} ${response.statusText}`);
  return response.json();
}
