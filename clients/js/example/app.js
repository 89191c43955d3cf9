// The example page's script: one PitcheyRooms client for the page.
import { PitcheyRooms } from '../pitchey-rooms.js';

const $ = (id) => document.getElementById(id);
let rooms = null;
let room = null;

// What the page saw, for the browser console and for the browser test
// (tests/integration/it_jsclient.mjs reads it through the DevTools protocol).
const seen = { states: [], codes: [], joined: [], messages: [], events: [], gaps: 0, revoked: 0 };
window.pitcheyExample = seen;

function show(text, cls) {
    const line = document.createElement('div');
    line.textContent = `${new Date().toLocaleTimeString()}  ${text}`;
    if (cls)
        line.className = cls;
    $('log').append(line);
    $('log').scrollTop = $('log').scrollHeight;
}

async function login(email, password) {
    const r = await fetch('/api/auth/login', {
        method: 'POST',
        headers: { 'Content-Type': 'application/json' },
        body: JSON.stringify({ email, password }),
    });
    const body = await r.json();
    if (r.status !== 200)
        throw new Error(body.error ? body.error.message : `login: ${r.status}`);
    return body.token;
}

$('login').addEventListener('submit', async (ev) => {
    ev.preventDefault();
    let token = null;
    try {
        if ($('email').value)
            token = await login($('email').value, $('password').value);
    } catch (err) {
        show(err.message, 'problem');
        return;
    }
    if (rooms)
        rooms.close();
    room = `pitch:${$('pitch').value}`;
    // The token source is a function: after a 1008 the client asks it once
    // more, so a page that can refresh its session would return the new one here.
    rooms = new PitcheyRooms({ token: () => token });
    rooms.on('state', (e) => {
        seen.states.push(e.state);
        if (e.code !== undefined)
            seen.codes.push(e.code);
        $('state').textContent = e.state;
        $('state').dataset.state = e.state;
        $('detail').textContent = e.code ? `(close ${e.code}${e.delayMs !== undefined ? `, retrying in ${e.delayMs} ms` : ''})` : '';
        const canSend = token !== null && e.state !== 'closed';
        $('text').disabled = $('send').disabled = !canSend;
    });
    rooms.on('joined', (j) => seen.joined.push({ room: j.room, seq: j.seq, resumed: j.resumed, recovered: j.recovered }));
    rooms.on('message', (m) => seen.messages.push({ seq: m.seq, data: m.data }));
    rooms.on('event', (e) => seen.events.push({ event: e.event, id: e.data.id }));
    rooms.on('gap', () => { seen.gaps++; });
    rooms.on('revoked', () => { seen.revoked++; });
    rooms.on('joined', (j) => show(`joined ${j.room} at seq ${j.seq}` + (j.resumed ? (j.recovered ? ', nothing missed' : '') : '') +
                                   `; members: ${j.members.map((m) => m.name).join(', ') || 'none'}`, 'presence'));
    rooms.on('message', (m) => show(`#${m.seq} ${m.from.name}: ${typeof m.data === 'string' ? m.data : JSON.stringify(m.data)}`));
    rooms.on('presence', (p) => show(`${p.user.name} ${p.action === 'join' ? 'arrived' : 'left'}`, 'presence'));
    rooms.on('event', (e) => show(`${e.event}: ${e.data.title ? `"${e.data.title}"` : `#${e.data.id}`}`, 'event'));
    rooms.on('gap', (g) => show(`messages after #${g.since} could not all be replayed: reload the history`, 'problem'));
    rooms.on('revoked', () => show('the session was revoked (close 1008): sign in again', 'problem'));
    rooms.on('error', (e) => show(`error ${e.code}: ${e.message}`, 'problem'));
    rooms.join(room);
    rooms.connect();
    show(`watching ${room}${token ? '' : ' anonymously'}`);
});

$('chat').addEventListener('submit', (ev) => {
    ev.preventDefault();
    const text = $('text').value.trim();
    if (!text || !rooms)
        return;
    if (rooms.send(room, text))
        $('text').value = '';
});
