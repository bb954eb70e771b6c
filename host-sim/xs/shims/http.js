// host-sim XS shims: http (legacy client) and securesocket. Shares the scope of core.js.
//
// "http" (modules/network/http/http.js): named exports Request and Server, default export
// frozen {Request, Server}.
//   new Request({host | address, port = 80, path = "/", method = "GET", headers: [name, value, ...],
//                body: String | ArrayBuffer | true, response: String | ArrayBuffer | undefined,
//                Socket: SecureSocket for https})
//   request.callback = function (message, val1, val2) {...}   (or a subclass method); `this` is
//   the request. Messages (http.js L127-133):
//     0 requestFragment   val1 = max bytes; return a String/ArrayBuffer, or undefined when done
//     1 status            val1 = status code
//     2 header            val1 = lower-case name, val2 = trimmed value (once per header)
//     3 headersComplete
//     4 responseFragment  val1 = bytes available now (only without `response`); read them with
//                         this.read(ArrayBuffer[, n]) / read(String[, n]) / read(Number) /
//                         read(null, n) (skip); bytes not read stay available
//     5 responseComplete  val1 = the whole body when `response` was String or ArrayBuffer
//    -2 error             any failure or disconnect before the body was complete
//   After responseComplete or error the request closes itself; close() aborts at once.
// The host delivers the status line and all headers in one turn and every body fragment in
// its own turn (promise jobs run in between), and responseComplete in a turn of its own, like
// the device (which completes from a Timer).

const requests = new Map(); // id -> state

class SecureSocket {
  constructor() {
    throw new Error("host-sim: sockets are not available; use it as the Socket option of http Request");
  }
}
define("securesocket", { default: SecureSocket });

function requestState(request) {
  const state = requestStates.get(request);
  if (!state) throw new Error("closed");
  return state;
}
const requestStates = new WeakMap();

function bodyBytes(body) {
  if (typeof body === "string") return utf8(body);
  return bytesOf(body, "invalid body");
}

class Request {
  constructor(dictionary) {
    pause();
    try {
      if (dictionary.socket) throw new Error("host-sim: http Server requests are not supported");
      dictionary = { port: 80, method: "GET", path: "/", ...dictionary };
      const scheme = dictionary.Socket === SecureSocket ? "https" : "http";
      const host = String(dictionary.host ? dictionary.host : dictionary.address);
      const headers = [];
      const h = dictionary.headers;
      if (h) for (let i = 0; i < h.length; i += 2) headers.push([h[i].toString(), h[i + 1].toString()]);
      const streamed = dictionary.body === true;
      const body = dictionary.body && !streamed ? bodyBytes(dictionary.body) : undefined;
      const json = utf8(
        JSON.stringify({ scheme, host, port: Number(dictionary.port), method: String(dictionary.method), path: String(dictionary.path), headers }),
      );
      let payload = json;
      if (body) {
        payload = new Uint8Array(json.byteLength + body.byteLength);
        payload.set(json, 0);
        payload.set(body, json.byteLength);
      }
      const state = { id: 0, request: this, response: dictionary.response, buffers: [], unread: [], unreadBytes: 0 };
      state.id = call(OP.HTTP_OPEN, json.byteLength, streamed ? 1 : 0, 0, payload).id;
      requests.set(state.id, state);
      requestStates.set(this, state);
    } finally {
      resume();
    }
  }

  read(type, limit) {
    const state = requestStates.get(this);
    if (!state) return undefined;
    if (arguments.length === 0) return state.unreadBytes;
    let n = state.unreadBytes;
    if (type === Number) n = Math.min(n, 1);
    if (typeof limit === "number") n = Math.min(n, Math.max(0, limit));
    else if (typeof limit === "string" && limit.length) n = Math.min(n, untilCount(state, limit.charCodeAt(0)));
    if (n === 0) return undefined;
    const bytes = takeBytes(state, n);
    if (type === ArrayBuffer)
      return bytes.byteOffset === 0 && bytes.byteLength === bytes.buffer.byteLength
        ? bytes.buffer
        : bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength);
    if (type === String) return fromUtf8(bytes);
    if (type === Number) return bytes[0];
    return undefined; // null / undefined type: skip
  }

  close() {
    const state = requestStates.get(this);
    if (!state) return;
    requestStates.delete(this);
    requests.delete(state.id);
    if (Object.prototype.hasOwnProperty.call(this, "callback")) delete this.callback;
    call(OP.HTTP_CLOSE, state.id);
  }
}
nativeMethods(Request.prototype, ["read", "close"]);
Request.requestFragment = 0;
Request.status = 1;
Request.header = 2;
Request.headersComplete = 3;
Request.responseFragment = 4;
Request.responseComplete = 5;
Request.error = -2;
Object.freeze(Request.prototype);

function untilCount(state, code) {
  let count = 0;
  for (const piece of state.unread) {
    const at = piece.indexOf(code);
    if (at >= 0) return count + at + 1;
    count += piece.byteLength;
  }
  return count;
}

function takeBytes(state, n) {
  state.unreadBytes -= n;
  const first = state.unread[0];
  if (first.byteLength >= n) {
    if (first.byteLength === n) state.unread.shift();
    else state.unread[0] = first.subarray(n);
    return first.subarray(0, n);
  }
  const out = new Uint8Array(n);
  let at = 0;
  while (at < n) {
    const piece = state.unread[0];
    const take = Math.min(piece.byteLength, n - at);
    out.set(take === piece.byteLength ? piece : piece.subarray(0, take), at);
    at += take;
    if (take === piece.byteLength) state.unread.shift();
    else state.unread[0] = piece.subarray(take);
  }
  return out;
}

function requestCallback(state, message, val1, val2) {
  const request = state.request;
  return callUser(request.callback, request, [message, val1, val2]);
}

function requestOpen(state) {
  return requests.get(state.id) === state;
}

function finishRequest(state, error) {
  let data;
  if (!error && state.response) {
    if (state.response === String) data = state.buffers.map((b) => fromUtf8(b)).join("");
    else if (state.response === ArrayBuffer) {
      let length = 0;
      for (const b of state.buffers) length += b.byteLength;
      const out = new Uint8Array(length);
      let at = 0;
      for (const b of state.buffers) {
        out.set(b, at);
        at += b.byteLength;
      }
      data = out.buffer;
    }
    state.buffers = [];
  }
  try {
    requestCallback(state, error ? Request.error : Request.responseComplete, data);
  } finally {
    if (requestOpen(state)) state.request.close();
  }
}

onEvent(EV.HTTP_WRITABLE, (id, max) => {
  const state = requests.get(id);
  if (!state) return;
  const chunk = requestCallback(state, Request.requestFragment, max);
  if (!requestOpen(state)) return;
  if (chunk === undefined) call(OP.HTTP_BODY, id, 1);
  else call(OP.HTTP_BODY, id, 0, 0, bodyBytes(chunk));
});

onEvent(EV.HTTP_RESPONSE, (id, status, c, payload) => {
  const state = requests.get(id);
  if (!state) return;
  const headers = JSON.parse(fromUtf8(payload));
  requestCallback(state, Request.status, status);
  for (const [name, value] of headers) {
    if (!requestOpen(state)) return;
    requestCallback(state, Request.header, String(name).toLowerCase(), String(value).trim());
  }
  if (requestOpen(state)) requestCallback(state, Request.headersComplete);
});

onEvent(EV.HTTP_DATA, (id, b, c, payload) => {
  const state = requests.get(id);
  if (!state || !payload.byteLength) return;
  // `payload` views the event's own ArrayBuffer, which nothing else references: no copy.
  if (state.response) {
    state.buffers.push(payload);
    return;
  }
  state.unread.push(payload);
  state.unreadBytes += payload.byteLength;
  requestCallback(state, Request.responseFragment, state.unreadBytes);
});

onEvent(EV.HTTP_END, (id) => {
  const state = requests.get(id);
  if (state) finishRequest(state, false);
});

onEvent(EV.HTTP_ERROR, (id) => {
  const state = requests.get(id);
  if (state) finishRequest(state, true);
});

class Server {
  constructor() {
    throw new Error("host-sim: http Server is not supported");
  }
}
Server.connection = 1;
Server.status = 2;
Server.header = 3;
Server.headersComplete = 4;
Server.requestFragment = 5;
Server.requestComplete = 6;
Server.prepareResponse = 8;
Server.responseFragment = 9;
Server.responseComplete = 10;
Server.error = -1;

define("http", { default: Object.freeze({ Request, Server }), Request, Server });
