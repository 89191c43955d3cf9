// it_jsclient.mjs: clients/js/pitchey-rooms.js against a real stack (run by
// tests/integration/it_jsclient, which starts the stack and passes its env).
//
// A reader (A) watches `lobby` and its own pitch's room while a sender (B)
// posts to `lobby` throughout: the rooms daemon is restarted (close 1001),
// then nginx is reloaded and its old workers killed (connections cut, 1006),
// B's token is revoked and refreshed (1008, retried with the new token), and
// finally A's token is revoked (1008 reported, not retried).  A and B must
// end with exactly the rows Postgres holds for `lobby` after A's join: every
// message once, in seq order.  JSDEBUG=1 logs every retry and B's queue.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { PitcheyRooms } from '../../clients/js/pitchey-rooms.js';

const BASE = process.env.PITCHEY_TEST_URL;
const WS_URL = process.env.PITCHEY_TEST_WS_URL;
const STACK = process.env.PITCHEY_STACK_SCRIPT;
const STACK_DIR = process.env.PITCHEY_STACK_DIR;
const T = 15000;    // generous deadline for anything that should come (shared, noisy machine)

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
async function until(what, cond, ms = T) {
    const end = Date.now() + ms;
    while (!(await cond())) {
        if (Date.now() > end)
            throw new Error(`timed out after ${ms} ms waiting for ${what}`);
        await sleep(25);
    }
}
const log = (...a) => console.error('it_jsclient:', ...a);

async function api(method, path, token, body) {
    for (let i = 0; ; i++) {
        const headers = { 'Content-Type': 'application/json' };
        if (token)
            headers.Authorization = `Bearer ${token}`;
        const r = await fetch(BASE + path, { method, headers, body: body && JSON.stringify(body) });
        const text = await r.text();
        if (r.status === 503 && i < 50) {   // a busy password-hash slot: retry briefly
            await sleep(100);
            continue;
        }
        return { status: r.status, json: text ? JSON.parse(text) : null };
    }
}

let userCounter = 0;
async function register(prefix) {
    const email = `${prefix}-${process.pid}-${++userCounter}@example.com`;
    const r = await api('POST', '/api/auth/register', null,
                        { email, password: 'correct horse', name: `${prefix} ${userCounter}`, role: 'creator' });
    assert.equal(r.status, 201, JSON.stringify(r.json));
    return { email, id: r.json.user.id, token: r.json.token };
}

function stack(cmd) {
    execFileSync(STACK, [cmd, STACK_DIR], { stdio: ['ignore', 'inherit', 'inherit'] });
}

// The nginx master recorded by the harness, and its worker processes.
function nginxMaster() {
    const line = readFileSync(`${STACK_DIR}/pids`, 'utf8').split('\n').find((l) => l.startsWith('nginx '));
    return Number(line.split(' ')[1]);
}
function childrenOf(pid) {
    const out = [];
    for (const task of execFileSync('ls', [`/proc/${pid}/task`]).toString().split('\n').filter(Boolean)) {
        try {
            out.push(...readFileSync(`/proc/${pid}/task/${task}/children`, 'utf8').split(' ').filter(Boolean).map(Number));
        } catch { /* thread gone */ }
    }
    return out;
}

function lobbyRows(afterSeq) {
    const out = execFileSync('psql', ['-X', '-At', '-v', 'ON_ERROR_STOP=1', '-c',
        `SELECT seq || ' ' || data::text FROM room_messages WHERE room = 'lobby' AND seq > ${Number(afterSeq)} ORDER BY seq`])
        .toString().split('\n').filter(Boolean);
    return out.map((l) => { const i = l.indexOf(' '); return { seq: Number(l.slice(0, i)), data: JSON.parse(l.slice(i + 1)) }; });
}

// A WebSocket that counts the sockets a client opens.
function countingWebSocket() {
    const C = class extends WebSocket {
        constructor(url) {
            super(url);
            C.opened++;
        }
    };
    C.opened = 0;
    return C;
}

// A client with everything it reports recorded.
function watch(name, options) {
    const WS = countingWebSocket();
    const c = new PitcheyRooms({ url: WS_URL, WebSocket: WS, backoffBaseMs: 200, backoffCapMs: 2000,
                                 pingIntervalMs: 2000, pongTimeoutMs: 3000, connectTimeoutMs: 30000, ...options });
    const rec = { WS, retries: [], states: [], closes: [], messages: [], events: [], gaps: [], revoked: [], errors: [], joined: [] };
    c.on('state', (e) => { rec.states.push(e.state); if (e.code !== undefined) rec.closes.push(e.code); });
    c.on('message', (m) => { if (m.room === 'lobby') rec.messages.push({ seq: m.seq, data: m.data }); });
    c.on('event', (e) => rec.events.push(e));
    c.on('reconnecting', (e) => rec.retries.push(e));
    c.on('gap', (g) => rec.gaps.push(g));
    c.on('revoked', (r) => rec.revoked.push(r.code));
    c.on('error', (e) => rec.errors.push(e.code));
    c.on('joined', (j) => rec.joined.push(j));
    if (process.env.JSDEBUG) {
        c.on('reconnecting', (e) => log(`DBG ${name} retry code ${e.code} in ${e.delayMs} ms (attempt ${e.attempt})`));
        c.on('open', () => log(`DBG ${name} socket open`));
    }
    c.on('state', (e) => log(`${name}: ${e.previous} -> ${e.state}` + (e.code !== undefined ? ` (code ${e.code}${e.delayMs !== undefined ? `, retry in ${e.delayMs} ms` : ''})` : '')));
    return { c, rec };
}

function assertExactlyOnceInOrder(name, got, rows) {
    const seqs = got.map((m) => m.seq);
    for (let i = 1; i < seqs.length; i++)
        assert.ok(seqs[i] > seqs[i - 1], `${name}: seq ${seqs[i]} after ${seqs[i - 1]}`);
    assert.deepEqual(got, rows, `${name} got exactly the stored messages, once, in order`);
}

test('pitchey-rooms.js resumes across a daemon restart, a front-server reload and token changes', { timeout: 110000 }, async (t) => {
    assert.ok(BASE && WS_URL && STACK && STACK_DIR, 'run me through tests/integration/it_jsclient');
    const ua = await register('jsreader');
    let ub = await register('jssender');

    const created = await api('POST', '/api/pitches', ua.token,
                              { title: 'Resumable', logline: 'A client that never forgets.', genre: 'drama' });
    assert.equal(created.status, 201);
    const pitchId = created.json.id;

    const a = watch('A', { token: ua.token });
    // B has a token function (so it can refresh) and room in its queue for
    // a slow daemon restart on a loaded machine (the bound is unit-tested).
    const b = watch('B', { token: () => ub.token, queueLimit: 1000 });
    t.after(() => { a.c.close(); b.c.close(); });
    a.c.join('lobby');
    a.c.join(`pitch:${pitchId}`);
    b.c.join('lobby');
    a.c.connect();
    b.c.connect();
    await until('both joined', () => a.rec.joined.length >= 2 && b.rec.joined.length >= 1);
    const startSeq = a.rec.joined.find((j) => j.room === 'lobby').seq;
    assert.equal(b.rec.joined[0].seq >= startSeq, true);

    // B posts every 100 ms until told to stop; sends made while B is
    // reconnecting wait in its queue.
    let sending = true, sent = 0, refused = 0, maxQueued = 0;
    const sender = (async () => {
        while (sending) {
            if (b.c.send('lobby', `m${sent}`))
                sent++;
            else
                refused++;
            maxQueued = Math.max(maxQueued, b.c.queued());
            if (process.env.JSDEBUG && sent % 5 === 0) {
                const l = b.c.rooms.get('lobby');
                log(`DBG B ${b.c.state} q=${b.c.queued()} joined=${l.joined} pump=${!!b.c.timers.pump} st=${b.c.sentTimes.length} A=${got()}`);
            }
            await sleep(100);
        }
    })();
    const got = () => a.rec.messages.length;

    await until('live messages', () => got() >= 10);
    log(`steady: A has ${got()} messages`);

    // 1. The rooms daemon restarts: 1001, then refused connections while it is down.
    const aSockets = a.rec.WS.opened;
    stack('rooms-stop');
    await until('A notices the restart', () => a.c.state === 'reconnecting');
    assert.ok(a.rec.closes.includes(1001), `A saw close 1001 (codes: ${a.rec.closes})`);
    await sleep(2500);      // long enough for several failed attempts
    stack('rooms-start');
    log(`rooms daemon restarted; B holds ${b.c.queued()} sends`);
    // Within the backoff's cap (2 s here) and a handshake: a failed attempt
    // must not hang until the connect timeout (30 s here).
    await until('A back after the restart', () => a.c.state === 'open' && b.c.state === 'open', 10000);
    assert.ok(a.rec.WS.opened > aSockets);
    // While the daemon was down, A retried with a growing, jittered backoff:
    // failure k waits less than min(cap, base * 2^(k-1)).
    const failures = a.rec.retries.filter((e) => e.code !== 1001);
    assert.ok(failures.length >= 2, `A retried more than once while the daemon was down (${failures.length})`);
    for (const e of failures)
        assert.ok(e.delayMs >= 0 && e.delayMs < Math.min(2000, 200 * 2 ** (e.attempt - 1)),
                  `retry ${e.attempt} waits ${e.delayMs} ms`);
    assert.ok(a.rec.retries[0].code === 1001 && a.rec.retries[0].delayMs < 1000, 'after 1001: within the 1 s jitter');
    let n = got();
    await until('messages after the restart', () => got() >= n + 10);
    log(`after the daemon restart: A has ${got()} messages`);

    // 2. nginx reloads; its old workers, still holding the upgraded
    // connections, are then killed: the connections are cut without a close frame.
    const master = nginxMaster();
    const oldWorkers = childrenOf(master);
    assert.ok(oldWorkers.length > 0, 'nginx has workers');
    const aOpenBefore = a.rec.WS.opened;
    process.kill(master, 'SIGHUP');
    await until('new nginx workers', () => childrenOf(master).some((p) => !oldWorkers.includes(p)));
    for (const p of oldWorkers) {
        try { process.kill(p, 'SIGKILL'); } catch { /* already gone */ }
    }
    await until('A reconnects through the new workers', () => a.rec.WS.opened > aOpenBefore && a.c.state === 'open');
    await until('B reconnects', () => b.c.state === 'open');
    n = got();
    await until('messages after the reload', () => got() >= n + 10);
    log(`after the nginx reload: A has ${got()} messages; close codes A: ${a.rec.closes}`);

    // 3. An API change reaches A's pitch room as an event.
    const put = await api('PUT', `/api/pitches/${pitchId}`, ua.token,
                          { title: 'Resumed', logline: 'A client that never forgets.', genre: 'drama' });
    assert.equal(put.status, 200);
    await until('pitch.updated', () => a.rec.events.some((e) => e.event === 'pitch.updated' && e.data.id === pitchId));

    // 4. B logs in again (a new session), then its old token is revoked:
    // B reports 1008, and its token function gives the new token, so B
    // comes back with it.
    const oldB = ub.token;
    const login = await api('POST', '/api/auth/login', null, { email: ub.email, password: 'correct horse' });
    assert.equal(login.status, 200);
    ub = { ...ub, token: login.json.token };
    assert.equal((await api('POST', '/api/auth/logout', oldB)).status, 204);
    await until('B told about 1008', () => b.rec.revoked.length === 1, 5000 + T);
    await until('B back with the new token', () => b.c.state === 'open');
    n = got();
    await until('messages after B refreshed', () => got() >= n + 5);

    // Stop sending; everything B's queue held reaches the room.
    sending = false;
    await sender;
    await until('B queue empty', () => b.c.queued() === 0);
    await sleep(500);
    const rows = lobbyRows(startSeq);
    await until('A has every stored message', () => got() >= rows.length);
    await until('B has every stored message', () => b.rec.messages.filter((m) => m.seq > startSeq).length >= rows.length);
    log(`sent ${sent} (refused ${refused}, at most ${maxQueued} queued), stored ${rows.length}, A got ${got()}`);
    assertExactlyOnceInOrder('A', a.rec.messages, rows);
    assertExactlyOnceInOrder('B', b.rec.messages.filter((m) => m.seq > startSeq), rows);
    assert.equal(refused, 0, `no send refused (B's errors: ${b.rec.errors})`);
    // What B sent arrived in the order sent (a send written to a dying socket may be lost).
    const idx = rows.map((r) => Number(String(r.data).slice(1)));
    for (let i = 1; i < idx.length; i++)
        assert.ok(idx[i] > idx[i - 1], `B's m${idx[i]} stored after m${idx[i - 1]}`);
    assert.ok(rows.length >= sent - 10, `at most a few of ${sent} sends lost in the cuts (stored ${rows.length})`);
    assert.deepEqual(a.rec.gaps, [], 'A never had a gap');

    // 5. A's token is revoked: 1008 is reported, the client closes and does not retry.
    assert.equal((await api('POST', '/api/auth/logout', ua.token)).status, 204);
    await until('A closed by 1008', () => a.c.state === 'closed', 5000 + T);
    assert.deepEqual(a.rec.revoked, [1008]);
    assert.equal(a.rec.closes[a.rec.closes.length - 1], 1008);
    const opened = a.rec.WS.opened;
    await sleep(3000);
    assert.equal(a.rec.WS.opened, opened, 'no new connection after 1008');

    // The states A went through, in order (repeats of reconnecting/open collapsed).
    const seq = a.rec.states.filter((s, i, all) => i === 0 || s !== all[i - 1]);
    assert.equal(seq[0], 'connecting');
    assert.equal(seq[1], 'open');
    assert.equal(seq[seq.length - 1], 'closed');
    assert.ok(seq.filter((s) => s === 'reconnecting').length >= 2, `reconnected at least twice: ${seq}`);
    log(`A states: ${seq.join(' ')}`);
});

// ------------------------------------------------------------- the browser

// Headless Chromium driven through its DevTools protocol, over the same
// WebSocket API the client uses: nothing is installed from npm.
async function launchChromium(bin) {
    const { spawn } = await import('node:child_process');
    const { mkdtempSync, rmSync, existsSync } = await import('node:fs');
    const profile = mkdtempSync('/tmp/pitchey-chromium.');
    const proc = spawn(bin, ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
                             '--disable-background-networking', '--disable-component-update', '--disable-sync',
                             '--disable-dev-shm-usage', '--remote-debugging-port=0', '--remote-debugging-address=127.0.0.1',
                             `--user-data-dir=${profile}`, 'about:blank'],
                       { stdio: 'ignore', detached: true });
    const portFile = `${profile}/DevToolsActivePort`;
    await until('Chromium DevTools port', () => existsSync(portFile) && readFileSync(portFile, 'utf8').includes('\n'), 30000);
    const port = Number(readFileSync(portFile, 'utf8').split('\n')[0]);
    const targets = await (await fetch(`http://127.0.0.1:${port}/json/list`)).json();
    const page = targets.find((x) => x.type === 'page');
    assert.ok(page, 'Chromium has a page');
    const ws = new WebSocket(page.webSocketDebuggerUrl);
    await new Promise((resolve, reject) => { ws.onopen = resolve; ws.onerror = () => reject(new Error('DevTools socket')); });
    let nextId = 0;
    const pending = new Map();
    ws.onmessage = (ev) => {
        const m = JSON.parse(ev.data);
        if (m.id && pending.has(m.id)) {
            pending.get(m.id)(m);
            pending.delete(m.id);
        }
    };
    const call = (method, params = {}) => new Promise((resolve, reject) => {
        const id = ++nextId;
        pending.set(id, (m) => (m.error ? reject(new Error(`${method}: ${m.error.message}`)) : resolve(m.result)));
        ws.send(JSON.stringify({ id, method, params }));
    });
    const evaluate = async (expression) => {
        const r = await call('Runtime.evaluate', { expression, returnByValue: true, awaitPromise: true });
        if (r.exceptionDetails)
            throw new Error(`page: ${r.exceptionDetails.exception ? r.exceptionDetails.exception.description : r.exceptionDetails.text}`);
        return r.result.value;
    };
    const close = () => {
        try { ws.close(); } catch { /* gone */ }
        try { process.kill(-proc.pid, 'SIGKILL'); } catch { /* gone */ }   // the group we started
        try { rmSync(profile, { recursive: true, force: true }); } catch { /* busy */ }
    };
    return { call, evaluate, close };
}

test('the example page in headless Chromium resumes a pitch room and surfaces 1008', { timeout: 110000, skip: !process.env.PITCHEY_CHROMIUM && 'no chromium' }, async (t) => {
    const uc = await register('jsbrowser');
    const ud = await register('jsposter');
    const created = await api('POST', '/api/pitches', uc.token,
                              { title: 'Browser pitch', logline: 'Watched from a headless tab.', genre: 'comedy' });
    assert.equal(created.status, 201);
    const pitchId = created.json.id;
    const room = `pitch:${pitchId}`;

    const browser = await launchChromium(process.env.PITCHEY_CHROMIUM);
    t.after(() => browser.close());
    await browser.call('Page.enable');
    await browser.call('Page.navigate', { url: `${BASE}/clients/js/example/` });
    await until('the example page', () => browser.evaluate('typeof window.pitcheyExample === "object"').catch(() => false), 30000);
    const page = () => browser.evaluate('JSON.stringify(window.pitcheyExample)').then(JSON.parse);
    await browser.evaluate(`(() => {
        document.getElementById('email').value = ${JSON.stringify(uc.email)};
        document.getElementById('password').value = 'correct horse';
        document.getElementById('pitch').value = ${JSON.stringify(String(pitchId))};
        document.querySelector('#login button').click();
        return true; })()`);
    await until('the page joined', async () => (await page()).joined.length >= 1);
    const start = (await page()).joined[0].seq;

    const d = watch('D', { token: ud.token, queueLimit: 1000 });
    t.after(() => d.c.close());
    d.c.join(room);
    d.c.connect();
    await until('D joined', () => d.rec.joined.length >= 1);
    let sending = true, sent = 0;
    const sender = (async () => {
        while (sending) {
            if (d.c.send(room, `b${sent}`))
                sent++;
            await sleep(100);
        }
    })();
    const count = async () => (await page()).messages.length;
    await until('messages in the page', async () => (await count()) >= 5);

    // The rooms daemon restarts.
    stack('rooms-stop');
    await until('the page reconnecting', async () => (await page()).states.includes('reconnecting'));
    await sleep(2500);
    stack('rooms-start');
    let n = await count();
    await until('the page back after the restart', async () => (await count()) >= n + 5, 40000);
    assert.ok((await page()).codes.includes(1001), 'the page saw 1001');

    // nginx reloads and its old workers are killed.
    const master = nginxMaster();
    const oldWorkers = childrenOf(master);
    process.kill(master, 'SIGHUP');
    await until('new nginx workers', () => childrenOf(master).some((p) => !oldWorkers.includes(p)));
    for (const p of oldWorkers) {
        try { process.kill(p, 'SIGKILL'); } catch { /* already gone */ }
    }
    await until('the page lost the connection', async () => (await page()).codes.some((c) => c !== 1001), 20000);
    n = await count();
    await until('the page back after the reload', async () => (await count()) >= n + 5, 40000);

    // A live pitch.updated event.
    const put = await api('PUT', `/api/pitches/${pitchId}`, uc.token,
                          { title: 'Browser pitch, renamed', logline: 'Watched from a headless tab.', genre: 'comedy' });
    assert.equal(put.status, 200);
    await until('pitch.updated in the page', async () => (await page()).events.some((e) => e.event === 'pitch.updated' && e.id === pitchId));

    sending = false;
    await sender;
    await until('D queue empty', () => d.c.queued() === 0);
    await sleep(500);
    const rows = execFileSync('psql', ['-X', '-At', '-v', 'ON_ERROR_STOP=1', '-c',
        `SELECT seq || ' ' || data::text FROM room_messages WHERE room = 'pitch:${Number(pitchId)}' AND seq > ${Number(start)} ORDER BY seq`])
        .toString().split('\n').filter(Boolean)
        .map((l) => { const i = l.indexOf(' '); return { seq: Number(l.slice(0, i)), data: JSON.parse(l.slice(i + 1)) }; });
    await until('every stored message in the page', async () => (await count()) >= rows.length);
    const seen = await page();
    log(`browser: ${sent} sent, ${rows.length} stored, ${seen.messages.length} in the page; states ${seen.states.join(' ')}; codes ${seen.codes}`);
    assertExactlyOnceInOrder('the page', seen.messages, rows);
    assert.equal(seen.gaps, 0);
    assert.ok(rows.length >= sent - 10, `at most a few of ${sent} sends lost in the cuts (stored ${rows.length})`);

    // Every session of the page's user is revoked (signed out everywhere):
    // the page reports 1008 and stays closed.
    execFileSync('psql', ['-X', '-At', '-v', 'ON_ERROR_STOP=1', '-c',
        `UPDATE sessions SET revoked_at = now() WHERE user_id = ${Number(uc.id)} AND revoked_at IS NULL`]);
    await until('1008 in the page', async () => (await page()).revoked === 1, 5000 + T);
    await until('the page closed', async () => (await page()).states.at(-1) === 'closed');
    await sleep(3000);
    const after = await page();
    assert.equal(after.states.at(-1), 'closed', 'no retry after 1008');
    assert.equal(after.codes.at(-1), 1008);
    assert.equal(await browser.evaluate('document.getElementById("state").textContent'), 'closed', 'the page shows it');
    const states = after.states.filter((s, i, all) => i === 0 || s !== all[i - 1]);
    assert.deepEqual(states.slice(0, 2), ['connecting', 'open']);
    assert.ok(states.filter((s) => s === 'reconnecting').length >= 2, `reconnected at least twice: ${states}`);
});
