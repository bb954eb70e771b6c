// host-sim XS shims: mqtt (the legacy client, modules/network/mqtt/mqtt.js). Shares the scope of
// core.js. Default export Client:
//   new Client({host, port = 1883 (80 with path), id = "", user, password, will, timeout, path,
//               Socket, secure})
//   client.onReady()                       after CONNACK
//   client.onMessage(topic, data)          data: ArrayBuffer
//   client.onClose()                       broker, network or failed connect (once)
//   publish(topic, data: String | ArrayBuffer[, flags]), subscribe(topic): throw
//   "connection closed" before onReady and after the close; close() ends it at once.
// QoS 0 as the module sends; the host carries the connection (XsServices.mqtt). Each event is a
// turn of its own.

const mqttClients = new Map(); // id -> state

class Client {
  constructor(dictionary) {
    pause();
    try {
      if (!dictionary || !dictionary.host) throw new Error("parameter host is required");
      const path = dictionary.path === undefined ? undefined : String(dictionary.path);
      const options = {
        host: String(dictionary.host),
        port: Number(dictionary.port ?? (path === undefined ? 1883 : 80)),
        id: dictionary.id === undefined ? "" : String(dictionary.id),
        tls: dictionary.Socket !== undefined && dictionary.Socket === SecureSocket,
      };
      if (dictionary.user !== undefined) options.user = String(dictionary.user);
      if (dictionary.password !== undefined)
        options.password = typeof dictionary.password === "string" ? dictionary.password : fromUtf8(bytesOf(dictionary.password));
      if (dictionary.timeout) options.keepAliveMs = Number(dictionary.timeout);
      if (path !== undefined) options.path = path;
      const state = { id: 0, client: this, ready: false, open: true };
      state.id = callJSON(OP.MQTT_OPEN, options).id;
      mqttClients.set(state.id, state);
      mqttStates.set(this, state);
    } finally {
      resume();
    }
  }

  publish(topic, data) {
    const state = liveClient(this);
    const t = utf8(String(topic));
    const body = typeof data === "string" ? utf8(data) : bytesOf(data, "invalid data");
    const payload = new Uint8Array(t.byteLength + body.byteLength);
    payload.set(t, 0);
    payload.set(body, t.byteLength);
    call(OP.MQTT_PUBLISH, state.id, t.byteLength, 0, payload);
  }

  subscribe(topic) {
    const state = liveClient(this);
    call(OP.MQTT_SUBSCRIBE, state.id, 0, 0, utf8(String(topic)));
  }

  close() {
    const state = mqttStates.get(this);
    if (!state || !state.open) return;
    state.open = false;
    mqttClients.delete(state.id);
    call(OP.MQTT_CLOSE, state.id);
  }
}
nativeMethods(Client.prototype, ["publish", "subscribe", "close"]);
Object.freeze(Client.prototype);

const mqttStates = new WeakMap();

function liveClient(client) {
  const state = mqttStates.get(client);
  if (!state || !state.open || !state.ready) throw new Error("connection closed");
  return state;
}

function clientCallback(state, name, args) {
  const fn = state.client[name];
  if (typeof fn === "function") callUser(fn, state.client, args);
}

onEvent(EV.MQTT_READY, (id) => {
  const state = mqttClients.get(id);
  if (!state) return;
  state.ready = true;
  clientCallback(state, "onReady", []);
});

onEvent(EV.MQTT_MESSAGE, (id, topicLength, c, payload) => {
  const state = mqttClients.get(id);
  if (!state) return;
  const topic = fromUtf8(payload.subarray(0, topicLength));
  const data = payload.buffer.slice(payload.byteOffset + topicLength, payload.byteOffset + payload.byteLength);
  clientCallback(state, "onMessage", [topic, data]);
});

onEvent(EV.MQTT_CLOSE, (id) => {
  const state = mqttClients.get(id);
  if (!state) return;
  state.open = false;
  mqttClients.delete(id);
  clientCallback(state, "onClose", []);
});

define("mqtt", { default: Client });
