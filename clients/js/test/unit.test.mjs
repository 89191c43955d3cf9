// Unit tests of pitchey-rooms.js under `node --test`: the backoff, the
// ordering logic and the connection policy, against a scripted fake
// WebSocket (no server).  The stack test (stack.test.mjs) covers the same
// policy against the real daemon and nginx.
import { test, afterEach } from 'node:test';
import assert from 'node:assert/strict';
import { backoffDelay, RoomSequencer, PitcheyRooms, DEFAULTS } from '../pitchey-rooms.js';

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

async function until(what, cond, ms = 3000) {
    const end = Date.now() + ms;
    while (!cond()) {
        if (Date.now() > end)
            throw new Error(`timed out waiting for ${what}`);
        await sleep(5);
    }
}

// A WebSocket the test drives: it records what the client sends and opens,
// speaks and closes when told.
class FakeSocket {
    static all = [];
    constructor(url) {
        this.url = url;
        this.sent = [];
        this.closedWith = null;
        FakeSocket.all.push(this);
    }
    send(s) {
        if (this.closedWith)
            throw new Error('send on a closed socket');
        this.sent.push(JSON.parse(s));
    }
    close(code, reason) { this.closedWith = { code, reason }; }
    open() { this.onopen && this.onopen({}); }
    push(obj) { this.onmessage && this.onmessage({ data: JSON.stringify(obj) }); }
    serverClose(code, reason = '') { this.onclose && this.onclose({ code, reason }); }
    fail() { this.onerror && this.onerror({}); }
    frames(type) { return this.sent.filter((f) => f.type === type); }
}
const last = () => FakeSocket.all[FakeSocket.all.length - 1];

// Every client is closed after its test, passed or failed, so that a failing
// test cannot leave timers that keep the process (and make check) waiting.
const clients = [];
afterEach(() => {
    for (const c of clients.splice(0))
        c.close();
});

function client(opts = {}) {
    FakeSocket.all = [];
    const c = new PitcheyRooms({ url: 'ws://test/ws', WebSocket: FakeSocket, backoffBaseMs: 40,
                                 backoffCapMs: 400, goingAwayJitterMs: 40, random: () => 0.5, ...opts });
    const seen = { states: [], messages: [], errors: [], gaps: [], revoked: [], joined: [] };
    c.on('state', (e) => seen.states.push(e.state));
    c.on('message', (m) => seen.messages.push(m.seq));
    c.on('error', (e) => seen.errors.push(e.code));
    c.on('gap', (g) => seen.gaps.push(g));
    c.on('revoked', (r) => seen.revoked.push(r.code));
    c.on('joined', (j) => seen.joined.push(j));
    clients.push(c);
    return { c, seen };
}

const msg = (seq, room = 'lobby') => ({ type: 'message', room, seq, from: { id: 1, name: 'a', role: 'creator' }, data: seq, ts: 'x' });

// ----------------------------------------------------------------- backoff

test('backoff: full jitter within [0, min(cap, base*2^n))', () => {
    for (let n = 0; n < 12; n++) {
        const ceiling = Math.min(30000, 500 * 2 ** n);
        assert.equal(backoffDelay(n, 500, 30000, () => 0), 0);
        assert.equal(backoffDelay(n, 500, 30000, () => 0.999999), Math.floor(0.999999 * ceiling));
        for (let i = 0; i < 50; i++) {
            const d = backoffDelay(n, 500, 30000);
            assert.ok(d >= 0 && d < ceiling, `attempt ${n}: ${d}`);
        }
    }
    assert.equal(backoffDelay(1000, 500, 30000, () => 0.5), 15000, 'huge attempts stay at the cap');
});

test('backoff: draws are spread, not one value', () => {
    const draws = new Set();
    for (let i = 0; i < 200; i++)
        draws.add(backoffDelay(5, 500, 30000));
    assert.ok(draws.size > 100, `only ${draws.size} distinct delays in 200 draws`);
});

test('defaults: a dead connection is noticed within the server idle timeout (60 s)', () => {
    assert.ok(DEFAULTS.pingIntervalMs + DEFAULTS.pongTimeoutMs < 60000);
    assert.ok(DEFAULTS.sendsPerSecond < 20, 'pacing stays under the server rate limit');
});

// --------------------------------------------------------------- sequencer

test('sequencer: first join starts at the joined seq, later ones are live', () => {
    const s = new RoomSequencer();
    assert.equal(s.since(), undefined);
    assert.deepEqual(s.joined(10, false), { gap: false, reset: false });
    assert.deepEqual(s.accept(msg(10)), [], 'seq at the join point is old');
    assert.deepEqual(s.accept(msg(11)).map((m) => m.seq), [11]);
    assert.equal(s.since(), 11);
});

test('sequencer: replay then live, duplicates dropped, live held during replay', () => {
    const s = new RoomSequencer(5);
    assert.deepEqual(s.joined(9, true), { gap: false, reset: false });
    assert.deepEqual(s.accept(msg(4)).map((m) => m.seq), [], 'old');
    assert.deepEqual(s.accept(msg(6)).map((m) => m.seq), [6]);
    assert.deepEqual(s.accept(msg(11)).map((m) => m.seq), [], 'live during the replay waits');
    assert.deepEqual(s.accept(msg(10)).map((m) => m.seq), [], 'waits, sorted');
    assert.deepEqual(s.accept(msg(6)).map((m) => m.seq), [], 'duplicate');
    assert.deepEqual(s.accept(msg(7)).map((m) => m.seq), [7]);
    assert.deepEqual(s.accept(msg(8)).map((m) => m.seq), [8]);
    assert.deepEqual(s.accept(msg(9)).map((m) => m.seq), [9, 10, 11], 'replay done: held ones follow in order');
    assert.deepEqual(s.accept(msg(11)).map((m) => m.seq), [], 'duplicate of a held one');
    assert.deepEqual(s.accept(msg(12)).map((m) => m.seq), [12]);
});

test('sequencer: a disconnect forgets held live messages (the replay brings them again)', () => {
    const s = new RoomSequencer(5);
    s.joined(8, true);
    s.accept(msg(6));
    s.accept(msg(9));
    s.disconnected();
    assert.equal(s.since(), 6);
    s.joined(9, true);
    const got = [7, 8, 9].flatMap((n) => s.accept(msg(n)).map((m) => m.seq));
    assert.deepEqual(got, [7, 8, 9]);
});

test('sequencer: gaps and resets are reported', () => {
    const s = new RoomSequencer(5);
    assert.deepEqual(s.joined(200, false), { gap: true, reset: false });
    const t = new RoomSequencer(5);
    assert.deepEqual(t.joined(5, false), { gap: false, reset: false }, 'nothing missed is no gap');
    const u = new RoomSequencer(50);
    assert.deepEqual(u.joined(3, false), { gap: true, reset: true });
    assert.deepEqual(u.accept(msg(4)).map((m) => m.seq), [4], 'after a reset the server position rules');
});

// ---------------------------------------------------------- connection policy

test('connect, join, rejoin with since after a drop, exactly once in order', async () => {
    const { c, seen } = client();
    c.connect();
    c.join('lobby');
    await until('socket', () => FakeSocket.all.length === 1);
    const a = last();
    assert.deepEqual(seen.states, ['connecting']);
    a.open();
    assert.deepEqual(a.frames('join'), [{ type: 'join', room: 'lobby' }]);
    a.push({ type: 'joined', room: 'lobby', seq: 3, members: [], recovered: false });
    a.push(msg(4)); a.push(msg(5));
    a.serverClose(1006);
    assert.equal(c.state, 'reconnecting');
    await until('second socket', () => FakeSocket.all.length === 2);
    const b = last();
    b.open();
    assert.deepEqual(b.frames('join'), [{ type: 'join', room: 'lobby', since: 5 }]);
    b.push({ type: 'joined', room: 'lobby', seq: 7, members: [], recovered: true });
    b.push(msg(5)); b.push(msg(6)); b.push(msg(8)); b.push(msg(7));
    assert.deepEqual(seen.messages, [4, 5, 6, 7, 8]);
    assert.deepEqual(seen.states, ['connecting', 'open', 'reconnecting', 'open']);
    assert.equal(seen.joined[1].resumed, true);
    assert.deepEqual(seen.gaps, []);
    c.close();
    assert.equal(c.state, 'closed');
});

test('recovered false is reported as a gap', async () => {
    const { c, seen } = client();
    c.join('lobby', { since: 2 });
    c.connect();
    await until('socket', () => FakeSocket.all.length === 1);
    last().open();
    assert.deepEqual(last().frames('join'), [{ type: 'join', room: 'lobby', since: 2 }]);
    last().push({ type: 'joined', room: 'lobby', seq: 500, members: [], recovered: false });
    assert.deepEqual(seen.gaps, [{ room: 'lobby', since: 2, seq: 500, reset: false }]);
    c.close();
});

test('backoff grows on repeated failures and resets after a stable period', async () => {
    const { c } = client({ stableMs: 150 });
    const delays = [];
    c.on('reconnecting', (e) => delays.push(e.delayMs));
    c.connect();
    for (let i = 1; i <= 4; i++) {
        await until(`socket ${i}`, () => FakeSocket.all.length === i);
        last().serverClose(1006);
    }
    // random() = 0.5: half of 40, 80, 160, 320.
    assert.deepEqual(delays, [20, 40, 80, 160]);
    await until('socket 5', () => FakeSocket.all.length === 5);
    last().open();
    await sleep(300);   // stable
    last().serverClose(1006);
    assert.equal(delays[4], 20, 'back to the first step');
    c.close();
});

test('close 1001 reconnects after a short jittered delay, not counted as a failure', async () => {
    const { c } = client({ goingAwayJitterMs: 1000, backoffBaseMs: 60000, backoffCapMs: 60000 });
    const delays = [];
    c.on('reconnecting', (e) => delays.push(e));
    c.connect();
    await until('socket', () => FakeSocket.all.length === 1);
    last().open();
    last().serverClose(1001, 'server shutting down');
    assert.equal(delays[0].delayMs, 500, 'random 0.5 of the 1000 ms window');
    assert.equal(delays[0].code, 1001);
    await until('reconnected', () => FakeSocket.all.length === 2, 2000);
    assert.equal(c.attempt, 0);
    c.close();
});

test('1001 jitter: different clients come back at different times', () => {
    const draws = new Set();
    for (let i = 0; i < 50; i++) {
        const c = new PitcheyRooms({ url: 'ws://x/ws', WebSocket: FakeSocket });
        clients.push(c);
        let d;
        c.on('reconnecting', (e) => { d = e.delayMs; });
        c.closedByUser = false;
        c.ws = new FakeSocket('ws://x/ws');
        c.socketLost(c.ws, 1001, '');
        c.close();
        assert.ok(d >= 0 && d < DEFAULTS.goingAwayJitterMs);
        draws.add(d);
    }
    assert.ok(draws.size > 30, `${draws.size} distinct delays of 50`);
});

test('1008 is reported and not retried with the same token', async () => {
    const { c, seen } = client({ token: 'tok-1' });
    c.connect();
    await until('socket', () => FakeSocket.all.length === 1);
    assert.equal(last().url, 'ws://test/ws?token=tok-1');
    last().open();
    last().serverClose(1008, 'token revoked');
    await until('closed', () => c.state === 'closed');
    assert.deepEqual(seen.revoked, [1008]);
    await sleep(200);
    assert.equal(FakeSocket.all.length, 1, 'no retry');
    assert.equal(c.send('lobby', 'x'), false, 'sends are refused once closed');
    // setToken after a new login reconnects.
    c.setToken('tok-2');
    await until('socket 2', () => FakeSocket.all.length === 2);
    assert.equal(last().url, 'ws://test/ws?token=tok-2');
    c.close();
});

test('1008 with a token function: one retry with a refreshed token, then closed', async () => {
    const tokens = ['old', 'new', 'new'];
    let calls = 0;
    const { c, seen } = client({ token: async () => tokens[Math.min(calls++, 2)] });
    c.connect();
    await until('socket', () => FakeSocket.all.length === 1);
    assert.match(last().url, /token=old$/);
    last().open();
    last().push({ type: 'pong' });
    last().serverClose(1008, 'token revoked');
    await until('socket 2', () => FakeSocket.all.length === 2);
    assert.match(last().url, /token=new$/);
    last().open();
    last().serverClose(1008, 'unknown, expired or revoked token');    // refused at once
    await until('closed', () => c.state === 'closed');
    assert.deepEqual(seen.revoked, [1008, 1008]);
    await sleep(150);
    assert.equal(FakeSocket.all.length, 2);
});

test('1008 with a token function that returns the same token: closed', async () => {
    const { c, seen } = client({ token: () => 'same' });
    c.connect();
    await until('socket', () => FakeSocket.all.length === 1);
    last().open();
    last().serverClose(1008, 'token revoked');
    await until('closed', () => c.state === 'closed');
    assert.deepEqual(seen.revoked, [1008]);
    assert.equal(FakeSocket.all.length, 1);
});

test('sends queue while reconnecting (bounded) and go out after the rejoin', async () => {
    const { c, seen } = client({ queueLimit: 3 });
    c.connect();
    c.join('lobby');
    await until('socket', () => FakeSocket.all.length === 1);
    last().serverClose(1006);
    assert.equal(c.send('lobby', 1), true);
    assert.equal(c.send('lobby', 2), true);
    assert.equal(c.send('lobby', 3), true);
    assert.equal(c.send('lobby', 4), false, 'queue full');
    assert.deepEqual(seen.errors, ['queue_full']);
    assert.equal(c.queued(), 3);
    await until('socket 2', () => FakeSocket.all.length === 2);
    last().open();
    assert.deepEqual(last().frames('send'), [], 'not before the room is joined');
    last().push({ type: 'joined', room: 'lobby', seq: 0, members: [], recovered: false });
    assert.deepEqual(last().frames('send').map((f) => f.data), [1, 2, 3]);
    assert.equal(c.queued(), 0);
    c.close();
});

test('sends are paced under the server rate limit', async () => {
    const { c } = client({ sendsPerSecond: 5 });
    c.connect();
    c.join('lobby');
    await until('socket', () => FakeSocket.all.length === 1);
    last().open();
    last().push({ type: 'joined', room: 'lobby', seq: 0, members: [], recovered: false });
    for (let i = 0; i < 8; i++)
        c.send('lobby', i);
    assert.equal(last().frames('send').length, 5);
    await until('the rest', () => last().frames('send').length === 8, 2500);
    c.close();
});

test('a silent connection is pinged, then given up and replaced', async () => {
    const { c } = client({ pingIntervalMs: 80, pongTimeoutMs: 80 });
    c.connect();
    await until('socket', () => FakeSocket.all.length === 1);
    const a = last();
    a.open();
    await until('ping', () => a.frames('ping').length === 1, 1000);
    a.push({ type: 'pong' });
    await until('second ping', () => a.frames('ping').length === 2, 1000);
    // No answer now: the client closes it itself and reconnects.
    await until('replaced', () => FakeSocket.all.length === 2, 2000);
    assert.equal(a.closedWith.code, 4900);
    c.close();
});

test('a handshake that hangs is abandoned after connectTimeoutMs', async () => {
    const { c } = client({ connectTimeoutMs: 60 });
    c.connect();
    await until('replaced', () => FakeSocket.all.length === 2, 2000);
    assert.ok(FakeSocket.all[0].closedWith);
    c.close();
});

test('a refused handshake reported by error alone (no close) is retried', async () => {
    const { c } = client();
    const codes = [];
    c.on('reconnecting', (e) => codes.push(e.code));
    c.connect();
    await until('socket', () => FakeSocket.all.length === 1);
    last().fail();
    await until('retried', () => FakeSocket.all.length === 2, 2000);
    assert.deepEqual(codes, [1006]);
});

test('an error on an open socket waits for the close code, then gives up on its own', async () => {
    const { c } = client();
    const codes = [];
    c.on('reconnecting', (e) => codes.push(e.code));
    c.on('revoked', () => codes.push('revoked'));
    c.connect();
    await until('socket', () => FakeSocket.all.length === 1);
    last().open();
    last().fail();
    last().serverClose(1008, 'token revoked');
    await until('closed', () => c.state === 'closed');
    assert.deepEqual(codes, ['revoked'], 'the close code after the error rules');
    const { c: d } = client();
    d.on('reconnecting', (e) => codes.push(e.code));
    d.connect();
    await until('socket', () => FakeSocket.all.length === 1);
    last().open();
    last().fail();      // and no close event at all
    await until('retried', () => FakeSocket.all.length === 2, 3000);
    assert.deepEqual(codes, ['revoked', 1006]);
});

test('events and presence are passed on for joined rooms only; errors too', async () => {
    const { c, seen } = client();
    const events = [];
    c.on('event', (e) => events.push(e.event));
    c.on('presence', (p) => events.push(p.action));
    c.connect();
    c.join('pitch:7');
    await until('socket', () => FakeSocket.all.length === 1);
    last().open();
    last().push({ type: 'joined', room: 'pitch:7', seq: 0, members: [], recovered: false });
    last().push({ type: 'event', room: 'pitch:7', event: 'pitch.updated', data: { id: 7 } });
    last().push({ type: 'event', room: 'pitch:8', event: 'pitch.updated', data: { id: 8 } });
    last().push({ type: 'presence', room: 'pitch:7', action: 'join', user: { id: 2 } });
    last().push({ type: 'error', code: 'forbidden', message: 'no' });
    assert.deepEqual(events, ['pitch.updated', 'join']);
    assert.deepEqual(seen.errors, ['forbidden']);
    c.close();
});

test('a join answered unavailable is sent again', async () => {
    const { c } = client({ joinRetryMs: 50 });
    c.connect();
    c.join('lobby');
    await until('socket', () => FakeSocket.all.length === 1);
    last().open();
    last().push({ type: 'error', code: 'unavailable', message: 'the database cannot be reached' });
    await until('second join', () => last().frames('join').length === 2, 1000);
    c.close();
});

test('leave stops rejoining and drops that room\'s queued sends', async () => {
    const { c } = client();
    c.connect();
    c.join('lobby');
    c.join('pitch:1');
    await until('socket', () => FakeSocket.all.length === 1);
    c.send('lobby', 'x');
    c.leave('lobby');
    assert.equal(c.queued(), 0);
    last().open();
    assert.deepEqual(last().frames('join').map((f) => f.room), ['pitch:1']);
    c.close();
});

test('a throwing listener does not stop delivery', async () => {
    const { c, seen } = client();
    const orig = console.error;
    console.error = () => {};
    try {
        c.on('message', () => { throw new Error('app bug'); });
        c.connect();
        c.join('lobby');
        await until('socket', () => FakeSocket.all.length === 1);
        last().open();
        last().push({ type: 'joined', room: 'lobby', seq: 0, members: [], recovered: false });
        last().push(msg(1));
        last().push(msg(2));
        assert.deepEqual(seen.messages, [1, 2]);
    } finally {
        console.error = orig;
        c.close();
    }
});
