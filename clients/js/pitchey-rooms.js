// pitchey-rooms.js: a browser client for Pitchey rooms (GET /ws, API.md
// "Rooms") that keeps one WebSocket alive across network blips, rooms daemon
// restarts and front-server reloads, and rejoins its rooms with `since` so
// the application sees every room message once, in `seq` order.
//
// One dependency-free ES module: no build step.  The one thing to know: the
// client owns the connection and the rooms' positions (the last `seq`
// delivered per room); the application only says what it wants (join, leave,
// send) and listens to events.  See README.md beside this file for the API,
// the reconnect policy and its numbers, and how resume works.

/** Defaults of every tunable; README.md explains each number. */
export const DEFAULTS = Object.freeze({
    backoffBaseMs: 500,       // first retry within [0, 500) ms
    backoffCapMs: 30000,      // never wait more than 30 s between attempts
    stableMs: 10000,          // a connection open this long resets the backoff
    goingAwayJitterMs: 1000,  // after close 1001: reconnect within [0, 1000) ms
    pingIntervalMs: 25000,    // nothing heard for this long: send {"type":"ping"}
    pongTimeoutMs: 10000,     // ...and nothing heard this long after it: dead
    connectTimeoutMs: 10000,  // a handshake that takes longer is abandoned
    queueLimit: 100,          // sends held while not connected (then refused)
    sendsPerSecond: 15,       // pacing below the server's default limit (20/s)
    joinRetryMs: 2000,        // re-send a join answered `unavailable` after this
});

/** The client's states, in the order a first connection goes through them. */
export const STATES = Object.freeze(['closed', 'connecting', 'open', 'reconnecting']);

const CLOSE_GOING_AWAY = 1001;
const CLOSE_POLICY = 1008;      // API.md: unknown, expired or revoked token
const CLOSE_NORMAL = 1000;
const LOCAL_DEAD = 4900;        // our own code when we give up on a socket

/**
 * Exponential backoff with full jitter: a delay drawn uniformly from
 * [0, min(capMs, baseMs * 2^attempt)).  `attempt` counts failures since the
 * last stable connection, from 0.  `random` returns [0, 1) (Math.random).
 */
export function backoffDelay(attempt, baseMs, capMs, random = Math.random) {
    const exp = Math.min(Math.max(attempt, 0), 30);   // 2^30 * base overflows any cap
    const ceiling = Math.min(capMs, baseMs * 2 ** exp);
    return Math.floor(random() * ceiling);
}

/**
 * The delivery order of one room.  It remembers the last `seq` delivered
 * (kept across connections), and on each `joined` learns where the replay
 * ends: messages up to that `seq` are the replay, later ones are live and
 * wait in a buffer until the replay is complete.  A message at or below the
 * last delivered `seq` is a duplicate and is dropped.
 */
export class RoomSequencer {
    constructor(lastSeq = null) {
        this.lastSeq = lastSeq;     // null: nothing delivered yet (fresh join)
        this.replayUpto = null;     // while replaying: the joined seq
        this.pending = [];          // live messages held during the replay
    }

    /** The `since` to send with the next join (undefined on a first join). */
    since() {
        return this.lastSeq === null ? undefined : this.lastSeq;
    }

    /**
     * Takes a `joined` frame's seq.  Returns { gap, reset } for the caller:
     * `reset` when the room's seq went backwards (its history was reset: the
     * position restarts from the server's), `gap` when messages are missing.
     */
    joined(seq, recovered) {
        this.pending = [];
        this.replayUpto = null;
        if (this.lastSeq === null) {        // first join: start from now
            this.lastSeq = seq;
            return { gap: false, reset: false };
        }
        if (seq < this.lastSeq) {           // the room was reset under us
            this.lastSeq = seq;
            return { gap: true, reset: true };
        }
        if (seq > this.lastSeq)
            this.replayUpto = seq;
        return { gap: !recovered && seq > this.lastSeq, reset: false };
    }

    /** Takes a message; returns the messages to deliver now, in order. */
    accept(msg) {
        const seq = msg.seq;
        if (typeof seq !== 'number' || !Number.isFinite(seq))
            return [];
        if (this.lastSeq !== null && seq <= this.lastSeq)
            return [];                      // already delivered
        if (this.replayUpto !== null && seq > this.replayUpto) {
            // Live message during the replay: hold it, sorted, once.
            if (!this.pending.some((m) => m.seq === seq)) {
                this.pending.push(msg);
                this.pending.sort((a, b) => a.seq - b.seq);
            }
            return [];
        }
        this.lastSeq = seq;
        const out = [msg];
        if (this.replayUpto !== null && seq >= this.replayUpto) {
            this.replayUpto = null;
            for (const m of this.pending) {
                if (m.seq > this.lastSeq) {
                    this.lastSeq = m.seq;
                    out.push(m);
                }
            }
            this.pending = [];
        }
        return out;
    }

    /** The connection ended: held live messages will come again in the replay. */
    disconnected() {
        this.pending = [];
        this.replayUpto = null;
    }
}

function defaultUrl() {
    const loc = globalThis.location;
    if (!loc || !loc.host)
        throw new TypeError('pitchey-rooms: no url given and no page location to derive /ws from');
    return (loc.protocol === 'https:' ? 'wss://' : 'ws://') + loc.host + '/ws';
}

function reportListenerError(err) {
    if (typeof globalThis.reportError === 'function')
        globalThis.reportError(err);
    else
        console.error(err);
}

/**
 * The client.  Options (all optional but for WebSocket outside browsers):
 *   url       'ws(s)://host/ws' (default: /ws on the page's host)
 *   token     a string, null (anonymous), or a function returning either or a
 *             Promise of either: called before every connection attempt, so
 *             it is where the application refreshes its token
 *   WebSocket the constructor to use (default: globalThis.WebSocket)
 *   random    () => [0, 1) for the jitter (default: Math.random)
 *   and any key of DEFAULTS.
 * Events (on/off): state, open, joined, message, presence, event, gap,
 * revoked, error.  README.md lists their payloads.
 */
export class PitcheyRooms {
    constructor(options = {}) {
        this.options = { ...DEFAULTS, ...options };
        this.url = options.url || defaultUrl();
        this.WebSocket = options.WebSocket || globalThis.WebSocket;
        if (typeof this.WebSocket !== 'function')
            throw new TypeError('pitchey-rooms: no WebSocket implementation (pass options.WebSocket)');
        this.random = options.random || Math.random;
        this.tokenSource = options.token === undefined ? null : options.token;

        this.state = 'closed';
        this.listeners = new Map();
        this.rooms = new Map();         // name -> { seq: RoomSequencer, joined, wanted }
        this.queue = [];                // { room, data } not yet sent
        this.sentTimes = [];            // send times in the last second (pacing)
        this.ws = null;
        this.attempt = 0;               // failures since the last stable connection
        this.timers = {};
        this.closedByUser = true;
        this.currentToken = null;
        this.refreshedAfter1008 = false;
        this.lastCloseCode = 0;
        this.socketIsOpen = false;
        this.heardOnThisSocket = false;
        this.lastHeard = 0;
        this.pingSentAt = 0;
        this.connectGeneration = 0;
        this.onOnline = () => { if (this.state === 'reconnecting' && !this.ws) this.reconnectNow(); };
    }

    // ------------------------------------------------------------- events

    /** Adds a listener; returns a function that removes it. */
    on(type, fn) {
        if (!this.listeners.has(type))
            this.listeners.set(type, new Set());
        this.listeners.get(type).add(fn);
        return () => this.off(type, fn);
    }

    off(type, fn) {
        const set = this.listeners.get(type);
        if (set)
            set.delete(fn);
    }

    emit(type, payload) {
        const set = this.listeners.get(type);
        if (!set)
            return;
        for (const fn of [...set]) {
            try {
                fn(payload);
            } catch (err) {
                reportListenerError(err);   // one bad listener must not stop the client
            }
        }
    }

    setState(state, detail = {}) {
        if (this.state === state)
            return;
        const previous = this.state;
        this.state = state;
        this.emit('state', { state, previous, ...detail });
    }

    // --------------------------------------------------------- public API

    /** Starts connecting (idempotent while connecting or open). */
    connect() {
        if (this.state !== 'closed')
            return;
        this.closedByUser = false;
        this.refreshedAfter1008 = false;
        if (typeof globalThis.addEventListener === 'function')
            globalThis.addEventListener('online', this.onOnline);
        this.setState('connecting');
        this.openSocket();
    }

    /** Closes for good (until connect() again); queued sends are dropped. */
    close() {
        this.closedByUser = true;
        this.lastCloseCode = CLOSE_NORMAL;
        if (typeof globalThis.removeEventListener === 'function')
            globalThis.removeEventListener('online', this.onOnline);
        this.clearTimers();
        this.queue = [];
        this.dropSocket(CLOSE_NORMAL, 'client closed');
        for (const r of this.rooms.values())
            r.joined = false;
        this.setState('closed', { code: CLOSE_NORMAL, reason: 'client closed' });
    }

    /**
     * Replaces the token (e.g. after a login) and reconnects with it: the
     * way back after `revoked`.  Rooms keep their positions.
     */
    setToken(token) {
        this.tokenSource = token;
        this.refreshedAfter1008 = false;
        if (this.state === 'closed') {
            if (!this.closedByUser || this.lastCloseCode === CLOSE_POLICY)
                this.connect();
            return;
        }
        this.dropSocket(CLOSE_NORMAL, 'new token');
        this.scheduleReconnect(0);
    }

    /**
     * Joins a room, now or as soon as connected, and after every reconnect.
     * `since` (optional) starts from a position the application kept, e.g.
     * across page loads.
     */
    join(room, { since } = {}) {
        if (typeof room !== 'string' || room === '')
            throw new TypeError('pitchey-rooms: room must be a non-empty string');
        let r = this.rooms.get(room);
        if (r)
            return;
        r = { seq: new RoomSequencer(since === undefined ? null : since), joined: false, retry: null };
        this.rooms.set(room, r);
        if (this.isOpen())
            this.sendJoin(room, r);
    }

    leave(room) {
        const r = this.rooms.get(room);
        if (!r)
            return;
        clearTimeout(r.retry);
        this.rooms.delete(room);
        this.queue = this.queue.filter((q) => q.room !== room);
        if (this.isOpen())
            this.sendFrame({ type: 'leave', room });
    }

    /** The last seq delivered in a room (to keep across page loads), or null. */
    position(room) {
        const r = this.rooms.get(room);
        return r ? r.seq.lastSeq : null;
    }

    /**
     * Posts `data` to a room.  Sent at once when connected and joined,
     * otherwise queued (up to queueLimit) and sent after the rejoin.
     * Returns false, and emits error `queue_full`, when the queue is full.
     */
    send(room, data) {
        if (this.state === 'closed' && this.closedByUser) {
            this.emit('error', { code: 'not_connected', message: 'send() on a closed client', room });
            return false;
        }
        if (this.queue.length >= this.options.queueLimit) {
            this.emit('error', { code: 'queue_full', message: `${this.queue.length} sends already waiting`, room });
            return false;
        }
        this.queue.push({ room, data });
        this.pump();
        return true;
    }

    /** Number of sends waiting for a connection (or for the pacing). */
    queued() {
        return this.queue.length;
    }

    // ------------------------------------------------------- connection

    isOpen() {
        return this.ws !== null && this.state === 'open';
    }

    async resolveToken() {
        const t = this.tokenSource;
        const v = typeof t === 'function' ? await t() : t;
        return v === undefined || v === '' ? null : v;
    }

    async openSocket() {
        const generation = ++this.connectGeneration;
        let token;
        try {
            token = await this.resolveToken();
        } catch (err) {
            this.emit('error', { code: 'token_failed', message: String(err && err.message || err) });
            this.scheduleReconnect(this.nextBackoff());
            return;
        }
        if (generation !== this.connectGeneration || this.closedByUser)
            return;     // closed or superseded while the token was fetched
        this.currentToken = token;
        const url = token === null ? this.url
            : this.url + (this.url.includes('?') ? '&' : '?') + 'token=' + encodeURIComponent(token);
        let ws;
        try {
            ws = new this.WebSocket(url);
        } catch (err) {
            this.emit('error', { code: 'bad_url', message: String(err && err.message || err) });
            this.finalClose(0, 'cannot open a WebSocket');
            return;
        }
        this.ws = ws;
        this.socketIsOpen = false;
        this.heardOnThisSocket = false;
        this.timers.connect = setTimeout(() => this.socketLost(ws, LOCAL_DEAD, 'connect timeout'),
                                         this.options.connectTimeoutMs);
        ws.onopen = () => this.socketOpened(ws);
        ws.onmessage = (ev) => this.socketMessage(ws, ev);
        ws.onclose = (ev) => this.socketLost(ws, ev.code, ev.reason || '');
        // Browsers follow `error` with `close`, which carries the code, but
        // some WebSocket implementations (Node 20's) fire only `error` when a
        // handshake is refused (e.g. nginx's 502 while the daemon restarts):
        // a failed handshake counts as lost at once; after open, the close
        // gets a second to arrive.
        ws.onerror = () => {
            if (ws !== this.ws)
                return;
            if (!this.socketIsOpen)
                this.socketLost(ws, 1006, 'connection failed');
            else if (!this.timers.errorClose)
                this.timers.errorClose = setTimeout(() => this.socketLost(ws, 1006, 'connection error'), 1000);
        };
    }

    socketOpened(ws) {
        if (ws !== this.ws)
            return;
        clearTimeout(this.timers.connect);
        this.socketIsOpen = true;
        this.lastHeard = Date.now();
        this.pingSentAt = 0;
        const tick = Math.max(20, Math.min(this.options.pingIntervalMs, this.options.pongTimeoutMs) / 4);
        this.timers.heartbeat = setInterval(() => this.heartbeat(ws), tick);
        this.timers.stable = setTimeout(() => { this.attempt = 0; }, this.options.stableMs);
        this.setState('open');
        this.emit('open', { url: this.url });
        for (const [room, r] of this.rooms)
            this.sendJoin(room, r);
        this.pump();
    }

    heartbeat(ws) {
        if (ws !== this.ws)
            return;
        const now = Date.now();
        if (this.pingSentAt && now - this.pingSentAt >= this.options.pongTimeoutMs) {
            this.socketLost(ws, LOCAL_DEAD, 'no answer to ping');
        } else if (!this.pingSentAt && now - this.lastHeard >= this.options.pingIntervalMs) {
            this.pingSentAt = now;
            this.sendFrame({ type: 'ping' });
        }
    }

    socketMessage(ws, ev) {
        if (ws !== this.ws)
            return;
        this.lastHeard = Date.now();
        this.pingSentAt = 0;
        let msg;
        try {
            msg = JSON.parse(typeof ev.data === 'string' ? ev.data : String(ev.data));
        } catch {
            this.emit('error', { code: 'bad_frame', message: 'the server sent a frame that is not JSON' });
            return;
        }
        if (!msg || typeof msg !== 'object')
            return;
        this.heardOnThisSocket = true;
        this.refreshedAfter1008 = false;
        switch (msg.type) {
        case 'joined': this.onJoined(msg); break;
        case 'message': this.onMessage(msg); break;
        case 'presence':
            if (this.rooms.has(msg.room))
                this.emit('presence', msg);
            break;
        case 'event':
            if (this.rooms.has(msg.room))
                this.emit('event', msg);
            break;
        case 'error': this.onServerError(msg); break;
        case 'pong': break;
        default: break;     // newer servers may add types: ignore them
        }
    }

    onJoined(msg) {
        const r = this.rooms.get(msg.room);
        if (!r)
            return;         // left meanwhile
        const since = r.seq.lastSeq;
        const resumed = since !== null;
        const { gap, reset } = r.seq.joined(msg.seq, msg.recovered === true);
        r.joined = true;
        clearTimeout(r.retry);
        this.emit('joined', { room: msg.room, seq: msg.seq, members: msg.members || [],
                              recovered: msg.recovered === true, resumed });
        if (gap)
            this.emit('gap', { room: msg.room, since, seq: msg.seq, reset });
        this.pump();
    }

    onMessage(msg) {
        const r = this.rooms.get(msg.room);
        if (!r)
            return;
        for (const m of r.seq.accept(msg))
            this.emit('message', m);
    }

    onServerError(msg) {
        this.emit('error', { code: msg.code, message: msg.message });
        if (msg.code === 'unavailable') {
            // A join the server could not serve (its database is away): try
            // again later for every room still waiting.
            for (const [room, r] of this.rooms) {
                if (r.joined || r.retry)
                    continue;
                r.retry = setTimeout(() => {
                    r.retry = null;
                    if (this.isOpen() && this.rooms.get(room) === r && !r.joined)
                        this.sendJoin(room, r);
                }, this.options.joinRetryMs);
            }
        }
    }

    sendJoin(room, r) {
        r.joined = false;
        const frame = { type: 'join', room };
        const since = r.seq.since();
        if (since !== undefined)
            frame.since = since;
        this.sendFrame(frame);
    }

    sendFrame(obj) {
        try {
            this.ws.send(JSON.stringify(obj));
            return true;
        } catch {
            return false;   // the close event follows
        }
    }

    /** Sends queued posts whose room is joined, at most sendsPerSecond. */
    pump() {
        if (!this.isOpen() || this.timers.pump)
            return;
        const now = Date.now();
        this.sentTimes = this.sentTimes.filter((t) => now - t < 1000);
        let i = 0;
        while (i < this.queue.length) {
            const q = this.queue[i];
            const r = this.rooms.get(q.room);
            if (r && !r.joined) {
                i++;        // wait for this room's rejoin; others may go
                continue;
            }
            if (this.sentTimes.length >= this.options.sendsPerSecond) {
                const wait = 1000 - (now - this.sentTimes[0]) + 1;
                this.timers.pump = setTimeout(() => { this.timers.pump = null; this.pump(); }, wait);
                return;
            }
            if (!this.sendFrame({ type: 'send', room: q.room, data: q.data }))
                return;     // keep it queued: the close event follows
            this.queue.splice(i, 1);
            this.sentTimes.push(now);
        }
    }

    /** Detaches and closes the current socket, if any; no events from it after. */
    dropSocket(code, reason) {
        const ws = this.ws;
        this.ws = null;
        this.socketIsOpen = false;
        clearTimeout(this.timers.connect);
        clearTimeout(this.timers.errorClose);
        this.timers.errorClose = null;
        clearInterval(this.timers.heartbeat);
        clearTimeout(this.timers.stable);
        clearTimeout(this.timers.pump);
        this.timers.pump = null;
        for (const r of this.rooms.values()) {
            r.joined = false;
            clearTimeout(r.retry);
            r.retry = null;
            r.seq.disconnected();
        }
        if (!ws)
            return;
        ws.onopen = ws.onmessage = ws.onclose = null;
        ws.onerror = () => {};
        try {
            ws.close(code >= 4000 || code === CLOSE_NORMAL ? code : CLOSE_NORMAL, reason);
        } catch {
            // already closing or closed
        }
    }

    socketLost(ws, code, reason) {
        if (ws !== this.ws)
            return;
        const heard = this.heardOnThisSocket;
        this.dropSocket(code === LOCAL_DEAD ? LOCAL_DEAD : CLOSE_NORMAL, reason);
        this.lastCloseCode = code;
        if (this.closedByUser)
            return;
        if (code === CLOSE_POLICY) {
            this.tokenRefused(reason, heard);
            return;
        }
        if (code === CLOSE_GOING_AWAY) {
            // The server is restarting or shedding us on purpose: come back
            // soon, spread over goingAwayJitterMs so clients do not return at
            // the same millisecond.  Not counted as a failure.
            this.scheduleReconnect(Math.floor(this.random() * this.options.goingAwayJitterMs), code, reason);
            return;
        }
        this.scheduleReconnect(this.nextBackoff(), code, reason);
    }

    /**
     * Close 1008: the token is unknown, expired or revoked.  Reported as
     * `revoked`; retried once only when the token source is a function that
     * now gives another token (a refresh), never with the same token.
     */
    async tokenRefused(reason, heard) {
        const refused = this.currentToken;
        this.emit('revoked', { code: CLOSE_POLICY, reason });
        if (typeof this.tokenSource === 'function' && !(this.refreshedAfter1008 && !heard)) {
            let fresh = null;
            try {
                fresh = await this.resolveToken();
            } catch {
                fresh = null;
            }
            if (this.closedByUser)
                return;
            if (fresh !== null && fresh !== refused) {
                this.refreshedAfter1008 = true;
                this.scheduleReconnect(this.nextBackoff(), CLOSE_POLICY, reason);
                return;
            }
        }
        this.finalClose(CLOSE_POLICY, reason);
    }

    finalClose(code, reason) {
        this.clearTimers();
        this.closedByUser = true;
        this.lastCloseCode = code;
        this.queue = [];
        this.setState('closed', { code, reason });
    }

    nextBackoff() {
        const d = backoffDelay(this.attempt, this.options.backoffBaseMs, this.options.backoffCapMs, this.random);
        this.attempt++;
        return d;
    }

    scheduleReconnect(delayMs, code, reason) {
        clearTimeout(this.timers.reconnect);
        this.setState('reconnecting', { code, reason, delayMs });
        this.emit('reconnecting', { code, reason, delayMs, attempt: this.attempt });
        this.timers.reconnect = setTimeout(() => this.reconnectNow(), delayMs);
    }

    reconnectNow() {
        clearTimeout(this.timers.reconnect);
        if (this.closedByUser || this.ws)
            return;
        this.openSocket();
    }

    clearTimers() {
        for (const k of Object.keys(this.timers)) {
            clearTimeout(this.timers[k]);
            clearInterval(this.timers[k]);
        }
        this.timers = {};
    }
}

export default PitcheyRooms;
