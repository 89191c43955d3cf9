-- pitchey_fastpath: nginx answers cached anonymous GETs from memcached itself.
--
-- It makes exactly the decision a pitchey-api worker makes on a cacheable
-- route (src/api/edge.c), from the formats of doc/cache-format.md: the same
-- normalised key, the same server (libmemcached's ketama over the same list),
-- one multi-get of the entry and its tag's generation from that server, the
-- same checks (format version, generations, soft expiry).  A fresh, valid
-- entry is answered here with the pool's headers (ETag/304, gzip).  Anything
-- else -- a miss, a stale or foreign entry, a missing tag, a parameter this
-- file does not know, a token, an Origin, a memcached error or timeout, an
-- epoch not known fresh -- returns without answering, and the request goes
-- on to the pool unchanged.  The pool alone stores, refreshes and locks.
--
-- The cache epoch (part of every entry key) is what the workers publish in
-- memcached: "<epoch> <wall ms of their Postgres read>".  A copy is used only
-- while that read is under EPOCH_MAX_AGE_MS old, so nginx never trusts an
-- epoch longer than a worker trusts its own (API.md: the 1-second bound).
-- After memcached trouble a worker reads the epoch at every lookup for a few
-- seconds ("careful", src/api/edge.c), closing even that window while
-- workers disagree about which servers are up.  nginx cannot read Postgres,
-- so it answers nothing itself for as long after it finds a server down (it
-- probes every server every EPOCH_POLL_S) or sees the epoch go up (a bump
-- that could not reach every server).
--
-- Counters live in the shared dict (lua_shared_dict pitchey_fastpath) and are
-- shown as JSON at GET /pitchey-fastpath/stats, to loopback clients only.
--
-- A GET of a pitch counts a view (API.md).  Hits answered here are summed per
-- pitch in lua_shared_dict pitchey_fastpath_views and handed to the pool once
-- a second, by one nginx worker, as a FastCGI request on the pool's socket
-- carrying PITCHEY_FASTPATH_REPORT="hits=<n> not_modified=<n> views=id:n,..."
-- (src/api/fastpath.h): a parameter only a front server can set.  The worker
-- adds the views to its batch for Postgres and the hits to its metrics.

local ffi = require("ffi")
local bit = require("bit")
local memcached = require("nginx.memcached")

local band, bor, bxor, lshift, rshift, tobit = bit.band, bit.bor, bit.bxor, bit.lshift,
    bit.rshift, bit.tobit
local byte, sub, find, format = string.byte, string.sub, string.find, string.format
local ngx = ngx

local _M = { _VERSION = "1" }

-- The one number both sides check: entry byte 2 and the "v<N>" of every key.
local FORMAT_VERSION = 1
local KEY_MAX = 250
local PREFIX_MAX = 64
local POINTS_PER_SERVER = 100            -- libmemcached MEMCACHED_POINTS_PER_SERVER
local DEFAULT_PORT = 11211
local EPOCH_MAX_AGE_MS = 900             -- workers trust theirs for 1 s at most
local EPOCH_POLL_S = 0.1
local SERVER_RETRY_S = 1                 -- a refusing server is skipped this long,
local SERVER_TIMEOUTS = 3                -- a slow one after this many timeouts in a row
local SLOW_RETRY_S = 0.25                -- for this long
local CAREFUL_MIN_MS = 5000              -- as the pool's CAREFUL_US
local VIEWS_FLUSH_S = 1
local VIEWS_CHUNK = 8000                 -- bytes of "id:n," per FastCGI request
local KEEPALIVE_MS, KEEPALIVE_POOL = 30000, 64
local STATUS_NAME = "pitchey-nginx"      -- RFC 9211 cache name
local GENRES = {
    action = true, animation = true, comedy = true, documentary = true, drama = true,
    fantasy = true, horror = true, romance = true, ["sci-fi"] = true, thriller = true,
    other = true,
}

ffi.cdef [[
int crypto_generichash(unsigned char *out, size_t outlen, const unsigned char *in,
                       unsigned long long inlen, const unsigned char *key, size_t keylen);
typedef struct pitchey_z_stream_s {
    const unsigned char *next_in; unsigned int avail_in; unsigned long total_in;
    unsigned char *next_out; unsigned int avail_out; unsigned long total_out;
    const char *msg; void *state; void *zalloc; void *zfree; void *opaque;
    int data_type; unsigned long adler; unsigned long reserved;
} pitchey_z_stream;
const char *zlibVersion(void);
int inflateInit2_(pitchey_z_stream *strm, int windowBits, const char *version, int stream_size);
int inflate(pitchey_z_stream *strm, int flush);
int inflateEnd(pitchey_z_stream *strm);
]]
-- The runtime libraries (libsodium23, zlib1g); the unversioned names exist
-- only with the -dev packages.
local function load(names)
    for _, name in ipairs(names) do
        local ok, lib = pcall(ffi.load, name)
        if ok then return lib end
    end
    error("cannot load " .. names[1])
end
local sodium = load({ "libsodium.so.23", "sodium" })
local zlib = load({ "libz.so.1", "z" })
local u8p = ffi.typeof("const uint8_t *")
local u64 = ffi.typeof("uint64_t")

-- ------------------------------------------------------------------ state

local C = nil            -- configuration (init)
local ring = nil         -- ketama continuum: { values = {...}, index = {...} }
local epoch, epoch_read_ms = nil, 0   -- per worker, from the poll timer
local down_until = {}    -- server index -> ngx.now() until which it is skipped
local timeouts = {}      -- server index -> timeouts in a row
local down_hard = {}     -- server index -> skipped because it refused or reset
local dict = nil

local function count(name, n)
    if dict then dict:incr(name, n or 1, 0) end
end

-- ------------------------------------------------------------- config file

-- Reads the [cache] and [api] settings the decision needs from pitchey.conf
-- (the same file the workers read; defaults as in conf/pitchey.conf).
local function read_config(path)
    local cfg = {
        servers = "127.0.0.1:11211", prefix = "pitchey", negative_ttl = 5, timeout_ms = 50,
        cache_control = "public, max-age=60, s-maxage=300", runtime_dir = "/run/pitchey",
        breaker_cooldown_ms = 3000,
    }
    local fh, err = io.open(path, "r")
    if not fh then
        return nil, "cannot read " .. path .. ": " .. tostring(err)
    end
    local section = ""
    for line in fh:lines() do
        line = line:gsub("^%s+", ""):gsub("%s+$", "")
        local s = line:match("^%[([%w_]+)%]$")
        if s then
            section = s
        elseif line ~= "" and not line:match("^[;#]") then
            local k, v = line:match("^([%w_]+)%s*=%s*(.-)$")
            if k and section == "cache" then
                if k == "servers" or k == "prefix" or k == "cache_control" then
                    cfg[k] = v
                elseif k == "negative_ttl" or k == "timeout_ms" or k == "breaker_cooldown_ms" then
                    cfg[k] = tonumber(v) or cfg[k]
                end
            elseif k == "runtime_dir" and section == "api" then
                cfg.runtime_dir = v
            end
        end
    end
    fh:close()
    return cfg
end

-- ------------------------------------------------------------------- ketama

-- libhashkit's one-at-a-time hash (libmemcached's default key hash).
local function oaat(s)
    local v = 0
    for i = 1, #s do
        v = tobit(v + byte(s, i))
        v = tobit(v + lshift(v, 10))
        v = bxor(v, rshift(v, 6))
    end
    v = tobit(v + lshift(v, 3))
    v = bxor(v, rshift(v, 11))
    v = tobit(v + lshift(v, 15))
    if v < 0 then v = v + 4294967296 end
    return v
end

local function parse_servers(list)
    local servers = {}
    for tok in list:gmatch("[^,%s]+") do
        local host, port = tok:match("^(.*):(%d+)$")
        if not host then host, port = tok, DEFAULT_PORT end
        servers[#servers + 1] = { host = host, port = tonumber(port) }
    end
    return servers
end

-- The continuum libmemcached builds for MEMCACHED_DISTRIBUTION_CONSISTENT_KETAMA
-- (unweighted): 100 points per server, "host:port-i" (or "host-i" on 11211)
-- hashed with one-at-a-time, sorted.
local function build_ring(servers)
    local points = {}
    for idx, s in ipairs(servers) do
        for i = 0, POINTS_PER_SERVER - 1 do
            local name = s.port == DEFAULT_PORT and format("%s-%d", s.host, i)
                or format("%s:%d-%d", s.host, s.port, i)
            points[#points + 1] = { oaat(name), idx }
        end
    end
    table.sort(points, function(a, b) return a[1] < b[1] end)
    local values, index = {}, {}
    for i, p in ipairs(points) do
        values[i], index[i] = p[1], p[2]
    end
    return { values = values, index = index, n = #servers }
end

-- Index (1-based) of the server libmemcached picks for key.
local function server_for(key)
    if ring.n <= 1 then return 1 end
    local h = oaat(key)
    local values = ring.values
    local lo, hi = 1, #values + 1
    while lo < hi do
        local mid = math.floor((lo + hi) / 2)
        if values[mid] < h then lo = mid + 1 else hi = mid end
    end
    if lo > #values then lo = 1 end
    return ring.index[lo]
end

-- --------------------------------------------------------------------- keys

local function safe(s)
    return not find(s, "[^\33-\126]")
end

local function hex(s)
    return (s:gsub(".", function(c) return format("%02x", byte(c)) end))
end

local hashbuf = ffi.new("unsigned char[16]")
local function blake2b_128(s)
    sodium.crypto_generichash(hashbuf, 16, s, #s, nil, 0)
    return ffi.string(hashbuf, 16)
end

-- "<prefix>:v<format>:e<epoch>:<kind>:<name>" (tags: no epoch), as
-- src/cache/key.c builds it.
local function key_build(kind, name, ep)
    local head
    if kind == "t" or kind == "s" then
        head = format("%s:v%d:%s:", C.prefix, FORMAT_VERSION, kind)
    else
        head = format("%s:v%d:e%s:%s:", C.prefix, FORMAT_VERSION, ep, kind)
    end
    if #head + #name <= KEY_MAX and safe(name) and byte(name, 1) ~= 35 then
        return head .. name
    end
    return head .. "#" .. hex(blake2b_128(name))
end

local function cut_prefix(p)
    local n = 0
    while n < #p and n < PREFIX_MAX and safe(sub(p, n + 1, n + 1)) do n = n + 1 end
    return sub(p, 1, n)
end

-- ------------------------------------------------------------------ entries

local function le(p, off, n)  -- little-endian unsigned (n <= 6 bytes fit a double)
    local v = 0
    for i = n - 1, 0, -1 do v = v * 256 + p[off + i] end
    return v
end

local function le_u64(p, off)
    local v = u64(0)
    for i = 7, 0, -1 do v = v * 256 + p[off + i] end
    return v
end

-- Parses a stored entry (layout: doc/cache-format.md); nil when it is not a
-- well-formed entry of FORMAT_VERSION.
local function entry_decode(data)
    local len = #data
    if len < 24 then return nil end
    local p = ffi.cast(u8p, data)
    if p[0] ~= 80 or p[1] ~= 69 or p[2] ~= FORMAT_VERSION or band(p[3], 0xfe) ~= 0 then
        return nil
    end
    local e = { gzip = p[3] == 1, status = p[4] + p[5] * 256, ntags = p[6], gens = {} }
    if e.status < 100 or e.status > 599 or e.ntags > 8 then return nil end
    -- created_ms and soft_expiry_ms are positive and below 2^53
    if p[15] ~= 0 or p[14] > 0x1f or p[23] ~= 0 or p[22] > 0x1f then return nil end
    e.soft_expiry_ms = le(p, 16, 7)
    local off = 24
    if len - off < e.ntags * 8 then return nil end
    for i = 1, e.ntags do
        e.gens[i] = le_u64(p, off)
        off = off + 8
    end
    local tags = {}
    for i = 1, 2 do
        if off >= len then return nil end
        local n = p[off]
        off = off + 1
        if n >= 40 or len - off < n then return nil end
        tags[i] = sub(data, off + 1, off + n)
        off = off + n
    end
    e.etag, e.etag_gzip = tags[1], tags[2]
    if e.etag == "" or (e.gzip and e.etag_gzip == "") or len - off < 4 then return nil end
    local bl = le(p, off, 4)
    off = off + 4
    if len - off ~= bl then return nil end
    e.body_off = off
    return e
end

-- A tag's generation as incr keeps it (decimal, maybe space-padded).
local function tag_parse(s)
    if s == nil or #s == 0 or #s > 20 then return nil end
    local v = u64(0)
    for i = 1, #s do
        local c = byte(s, i)
        if c == 32 or c == 13 or c == 10 then break end
        if c < 48 or c > 57 then return nil end
        v = v * 10 + (c - 48)
    end
    return v
end

local zs = ffi.new("pitchey_z_stream")
local zout = ffi.new("unsigned char[65536]")
local ZVERSION = zlib.zlibVersion()
local IDENTITY_MAX = 64 * 1024 * 1024

-- Inflates a gzip body (for clients that do not take gzip); nil if corrupt.
local function gunzip(s)
    ffi.fill(zs, ffi.sizeof(zs))
    if zlib.inflateInit2_(zs, 31, ZVERSION, ffi.sizeof(zs)) ~= 0 then return nil end
    zs.next_in, zs.avail_in = s, #s
    local parts, total = {}, 0
    local rc
    repeat
        zs.next_out, zs.avail_out = zout, 65536
        rc = zlib.inflate(zs, 0)
        if rc ~= 0 and rc ~= 1 then break end
        local n = 65536 - zs.avail_out
        total = total + n
        if total > IDENTITY_MAX then rc = -1; break end
        parts[#parts + 1] = ffi.string(zout, n)
    until rc == 1 or (n == 0 and zs.avail_in == 0)
    zlib.inflateEnd(zs)
    if rc ~= 1 then return nil end
    return table.concat(parts)
end

-- If-None-Match against one ETag, as cache_etag_matches() does.
local function etag_matches(inm, etag)
    if inm == nil or etag == nil or etag == "" then return false end
    local i, n = 1, #inm
    while i <= n do
        local s = find(inm, "[^ \t,]", i)
        if not s then break end
        i = s
        local c = sub(inm, i, i)
        if c == "*" then return true end
        if sub(inm, i, i + 1) == "W/" then i = i + 2; c = sub(inm, i, i) end
        if c ~= '"' then
            local comma = find(inm, ",", i, true)
            if not comma then break end
            i = comma
        else
            local close = find(inm, '"', i + 1, true)
            if not close then break end
            if sub(inm, i, close) == etag then return true end
            i = close + 1
        end
    end
    return false
end

-- request_accepts_gzip(): gzip or x-gzip, unless q=0.
local function accepts_gzip(h)
    if h == nil then return false end
    if type(h) == "table" then h = table.concat(h, ",") end
    for item in (h .. ","):gmatch("([^,]*),") do
        local name, params = item:match("^%s*([^;]-)%s*;(.*)$")
        if not name then name, params = item:match("^%s*(.-)%s*$"), "" end
        name = name:lower()
        if name == "gzip" or name == "x-gzip" then
            local q = params:match("^%s*[qQ]=([%d.]*)")
            return not (q and (tonumber(q) or 0) <= 0)
        end
    end
    return false
end

-- --------------------------------------------------------- route and query

local function path_id(s)
    s = s:gsub("^0+", "")
    if s == "" or #s > 19 or (#s == 19 and s > "9223372036854775807") then return nil end
    return s
end

local function unescape(s)
    -- Every "%" starts two hex digits, or the pool refuses the parameter.
    if find((s:gsub("%%%x%x", "")), "%", 1, true) then return nil end
    s = s:gsub("+", " ")
    return (s:gsub("%%(%x%x)", function(h) return string.char(tonumber(h, 16)) end))
end

-- The list's route key from the raw query string, and the tag it depends on,
-- as handle_pitches_list() builds them; nil for anything the pool would
-- refuse or this file does not know (the pool then answers).
local function list_key(args)
    local seen = {}
    if args and args ~= "" then
        for part in (args .. "&"):gmatch("([^&]*)&") do
            if part ~= "" then
                local eq = find(part, "=", 1, true)
                local name = unescape(eq and sub(part, 1, eq - 1) or part)
                local value = unescape(eq and sub(part, eq + 1) or "")
                if not name or not value or value == "" or seen[name] then return nil end
                -- ASCII without control characters only: nothing to check
                -- as UTF-8, and a code point is a byte for q's limit.
                if find(value, "[^\32-\126]") then return nil end
                seen[name] = value
            end
        end
    end
    local sort, genre, owner, q, limit, cursor = "new", "", "", "", "20", ""
    for name, v in pairs(seen) do
        if name == "limit" then
            if not v:match("^%d%d?%d?$") then return nil end
            local n = tonumber(v)
            if n < 1 or n > 100 then return nil end
            limit = tostring(n)
        elseif name == "sort" then
            if v ~= "new" and v ~= "popular" then return nil end
            sort = v
        elseif name == "genre" then
            if not GENRES[v] then return nil end
            genre = v
        elseif name == "owner" then
            owner = v:match("^%d+$") and path_id(v)
            if not owner then return nil end
        elseif name == "q" then
            if #v > 200 then return nil end
            q = v
        elseif name == "cursor" then
            -- Signed by the pool with the server secret: nginx cannot check
            -- it, but an entry exists under a cursor only if the pool
            -- accepted that cursor for exactly these parameters.
            cursor = v
        else
            return nil
        end
    end
    -- A genre's lists change only with pitches of that genre, an owner's
    -- only with that owner's; every other list with any write.
    local tag = genre ~= "" and "genre:" .. genre or owner ~= "" and "user:" .. owner or "pitches"
    return format("pitches?sort=%s&genre=%s&owner=%s&q=%s&limit=%s&cursor=%s", sort, genre,
        owner, q, limit, cursor), tag
end

-- ------------------------------------------------------------------ memcached

local function identity(k) return k end

-- A server found down (refused or reset: stopped or restarted), or an epoch
-- bump, makes every nginx worker careful for a while (the workers are too,
-- and may disagree about which servers are up).  Timeouts do not: on a busy
-- machine they say little about memcached, and a hung server's missed bumps
-- show as an epoch bump.
local function careful_from_now()
    local until_ms = ngx.now() * 1000 + C.careful_ms
    if (dict:get("careful_until") or 0) < until_ms then dict:set("careful_until", until_ms) end
end

-- A refused connection skips the server for SERVER_RETRY_S at once; a
-- timeout (a hung server, or a busy machine) only after SERVER_TIMEOUTS in a
-- row, as the pool's breaker does, and for SLOW_RETRY_S: a hung server then
-- costs each nginx worker 3 short timeouts every quarter second.
local function failed(idx, err)
    local hard = err ~= "timeout"
    if not hard then
        timeouts[idx] = (timeouts[idx] or 0) + 1
        if timeouts[idx] < SERVER_TIMEOUTS then return end
    else
        careful_from_now()
    end
    timeouts[idx] = 0
    down_until[idx] = ngx.now() + (hard and SERVER_RETRY_S or SLOW_RETRY_S)
    down_hard[idx] = hard
end

-- One multi-get from server idx; nil, err on any failure.
local function mc_get(idx, keys)
    if (down_until[idx] or 0) > ngx.now() then
        if down_hard[idx] then careful_from_now() end  -- until a while after it is back
        return nil, "skipped"
    end
    local s = C.servers_list[idx]
    local mc = memcached:new({ key_transform = { identity, identity } })
    mc:set_timeout(C.timeout_ms)
    local ok, err = mc:connect(s.host, s.port)
    if not ok then
        failed(idx, err)
        return nil, err
    end
    local res
    res, err = mc:get(keys)
    if not res then
        failed(idx, err)
        mc:close()
        return nil, err
    end
    timeouts[idx] = 0
    mc:set_keepalive(KEEPALIVE_MS, KEEPALIVE_POOL)
    return res
end

-- Reads the epoch copy, and probes every other server (an error anywhere
-- makes nginx careful).
local function poll_epoch(premature)
    if premature or not C then return end
    local key = C.epoch_key
    local home = server_for(key)
    for idx = 1, #C.servers_list do
        local res = mc_get(idx, { key })
        local v = idx == home and res and res[key] and res[key][1]
        local e, t
        if v then e, t = v:match("^(%d+) (%d+)$") end
        if e then
            local en, tn = tonumber(e), tonumber(t)
            -- A bump that could not reach every server: workers may
            -- disagree about which are up for a while.
            if epoch ~= nil and en > tonumber(epoch) then careful_from_now() end
            -- The highest epoch wins; among equals, the latest read.
            if epoch == nil or en > tonumber(epoch) or
                (en == tonumber(epoch) and tn > epoch_read_ms) then
                epoch, epoch_read_ms = e, tn
            end
        end
    end
end

-- -------------------------------------------------------------------- views

local function fcgi_record(typ, content)
    local len = #content
    local pad = (8 - len % 8) % 8
    return string.char(1, typ, 0, 1, rshift(len, 8), band(len, 255), pad, 0) .. content ..
        string.rep("\0", pad)
end

local function fcgi_len(n)
    if n < 128 then return string.char(n) end
    return string.char(bor(rshift(n, 24), 0x80), band(rshift(n, 16), 255),
        band(rshift(n, 8), 255), band(n, 255))
end

-- One FastCGI request to the pool carrying a report; true on its 204.
local function send_report(report)
    local params = {
        REQUEST_METHOD = "POST", REQUEST_URI = "/api/internal/fastpath-report",
        CONTENT_LENGTH = "0", GATEWAY_INTERFACE = "CGI/1.1", SERVER_PROTOCOL = "HTTP/1.1",
        REMOTE_ADDR = "127.0.0.1", PITCHEY_FASTPATH_REPORT = report,
    }
    local nv = {}
    for k, v in pairs(params) do
        nv[#nv + 1] = fcgi_len(#k) .. fcgi_len(#v) .. k .. v
    end
    local req = fcgi_record(1, string.char(0, 1, 0, 0, 0, 0, 0, 0)) ..  -- BEGIN_REQUEST, responder
        fcgi_record(4, table.concat(nv)) .. fcgi_record(4, "") .. fcgi_record(5, "")
    local sock = ngx.socket.tcp()
    -- Generous: a report that times out here is sent again, and the pool
    -- may still apply the first one (a view then counts twice, rather than
    -- never, as with the pool's own flushes).
    sock:settimeout(3000)
    local ok, err = sock:connect(C.pool_socket)
    if not ok then return false, err end
    ok, err = sock:send(req)
    local out = {}
    while ok do
        local head = sock:receive(8)
        if not head then ok = false; break end
        local typ, len, pad = byte(head, 2), byte(head, 5) * 256 + byte(head, 6), byte(head, 7)
        local content = ""
        if len + pad > 0 then content = sock:receive(len + pad) end
        if not content then ok = false; break end
        if typ == 6 then out[#out + 1] = sub(content, 1, len) end
        if typ == 3 then break end
    end
    sock:close()
    return ok and find(table.concat(out), "^Status: 204") ~= nil, err
end

-- Takes a counter's value, leaving what comes in meanwhile for next time.
local function take(d, key)
    local n = d:get(key)
    if not n or n <= 0 then return 0 end
    d:incr(key, -n)
    return n
end

-- What a total grew by since the last report (only the reporter, under
-- report_lock, writes the "reported:" marks).
local function since_report(name)
    local now, last = dict:get(name) or 0, dict:get("reported:" .. name) or 0
    dict:set("reported:" .. name, now)
    return math.max(0, now - last)
end

local function report(premature)
    local vd = ngx.shared.pitchey_fastpath_views
    if premature or not C or not vd or not dict:add("report_lock", true, VIEWS_FLUSH_S * 0.9) then
        return
    end
    local hits, nm = since_report("hits"), since_report("not_modified")
    local batch, size = {}, 0
    local function send()
        if #batch == 0 and hits == 0 and nm == 0 then return end
        local parts = {}
        for i, b in ipairs(batch) do parts[i] = b[1] .. ":" .. b[2] end
        local ok, err = send_report(format("hits=%d not_modified=%d views=%s", hits, nm,
            table.concat(parts, ",")))
        if ok then
            count("views_sent", size)
        else
            -- Kept for the next report.
            for _, b in ipairs(batch) do vd:incr(b[1], b[2], 0) end
            dict:incr("reported:hits", -hits, 0)
            dict:incr("reported:not_modified", -nm, 0)
            count("report_errors")
            ngx.log(ngx.WARN, "pitchey fast path: report not delivered: ", err or "no 204")
        end
        batch, size, hits, nm = {}, 0, 0, 0
    end
    for _, id in ipairs(vd:get_keys(0)) do
        local n = take(vd, id)
        if n > 0 then
            batch[#batch + 1] = { id, n }
            size = size + n
            if #batch * 24 > VIEWS_CHUNK then send() end
        end
    end
    send()
end

-- ---------------------------------------------------------------- answering

local function request_id()
    local rid = ngx.var.http_x_request_id
    if rid and #rid >= 1 and #rid <= 64 and not find(rid, "[^%w._-]") then return rid end
    -- nginx's own: 32 random hex digits, as unique as the pool's 16
    -- base64url characters and the same id nginx can write to its log.
    return ngx.var.request_id
end

local function answer(e, data)
    local h = ngx.header
    local gz = e.gzip and accepts_gzip(ngx.var.http_accept_encoding)
    local etag = gz and e.etag_gzip or e.etag
    local inm = ngx.var.http_if_none_match
    -- Only a representation can match (RFC 9110 13.1.2): a cached 404
    -- answers 404 whatever If-None-Match says, as the pool does.
    local not_modified = inm and e.status == 200 and
        (etag_matches(inm, e.etag) or (e.gzip and etag_matches(inm, e.etag_gzip)))
    local body
    if not not_modified then
        body = sub(data, e.body_off + 1)
        if e.gzip and not gz then
            body = gunzip(body)
            if not body then return false end
        end
    end
    h["Content-Type"] = "application/json; charset=utf-8"
    h["ETag"] = etag
    h["Cache-Control"] = e.status == 404 and ("public, max-age=" .. C.negative_ttl) or C.cache_control
    h["Vary"] = "Accept-Encoding"
    h["X-Request-Id"] = request_id()
    ngx.update_time()
    h["X-Response-Time"] = format("%.3fms", (ngx.now() - ngx.req.start_time()) * 1000)
    h["X-Database-Time"] = "0.000ms"
    h["X-Cache-Status"] = "HIT"
    h["Cache-Status"] = STATUS_NAME .. "; hit"
    if not_modified then
        ngx.status = 304
        h["Content-Type"] = nil
        ngx.send_headers()
        count("not_modified")
    else
        ngx.status = e.status
        if gz then h["Content-Encoding"] = "gzip" end
        h["Content-Length"] = #body
        ngx.print(body)
    end
    return true
end

-- --------------------------------------------------------------- interface

-- init_by_lua: opts.config is the path of pitchey.conf.
function _M.init(opts)
    local cfg, err = read_config(opts.config or "/etc/pitchey/pitchey.conf")
    if not cfg then
        ngx.log(ngx.ERR, "pitchey fast path off: ", err)
        return
    end
    cfg.prefix = cut_prefix(cfg.prefix)
    cfg.servers_list = parse_servers(cfg.servers)
    if #cfg.servers_list == 0 then
        ngx.log(ngx.WARN, "pitchey fast path off: no memcached servers")
        return
    end
    cfg.timeout_ms = math.max(1, math.min(cfg.timeout_ms, 100))
    cfg.epoch_key = format("%s:v%d:epoch", cfg.prefix, FORMAT_VERSION)
    cfg.pool_socket = opts.pool or ("unix:" .. cfg.runtime_dir .. "/api.sock")
    cfg.test = os.getenv("PITCHEY_FASTPATH_TEST") == "1"
    cfg.careful_ms = math.max(CAREFUL_MIN_MS, cfg.breaker_cooldown_ms + 2000)
    C = cfg
    ring = build_ring(cfg.servers_list)
end

-- init_worker_by_lua
function _M.init_worker()
    dict = ngx.shared.pitchey_fastpath
    if not C then return end
    ngx.timer.at(0, poll_epoch)
    ngx.timer.every(EPOCH_POLL_S, poll_epoch)
    ngx.timer.every(VIEWS_FLUSH_S, report)
end

local function stats()
    local addr = ngx.var.remote_addr or ""
    if not (addr:match("^127%.") or addr == "::1") then
        return ngx.exit(404)
    end
    local out = { format('"enabled":%s', C and "true" or "false") }
    for _, k in ipairs({ "hits", "not_modified", "miss", "stale", "invalid",
        "no_epoch", "careful", "epoch_retired", "memcached_errors", "memcached_skipped", "not_handled", "views_sent",
        "report_errors", "lua_errors" }) do
        out[#out + 1] = format('"%s":%d', k, dict and dict:get(k) or 0)
    end
    local last = dict and dict:get("memcached_last_error")
    out[#out + 1] = format('"memcached_last_error":%s', last and format("%q", last) or "null")
    out[#out + 1] = format('"epoch":%s', epoch or "null")
    out[#out + 1] = format('"epoch_age_ms":%d',
        epoch and math.floor(ngx.now() * 1000 - epoch_read_ms) or -1)
    ngx.header["Content-Type"] = "application/json"
    ngx.header["Cache-Control"] = "no-store"
    ngx.print("{", table.concat(out, ","), "}\n")
    return ngx.exit(200)
end

-- Which server the fast path asks for each key, one per line (tests compare
-- it with libmemcached).  Only where nginx's environment has
-- PITCHEY_FASTPATH_TEST=1 (the test harness sets it), and only to loopback.
local function server_lookup()
    local addr = ngx.var.remote_addr or ""
    if not (addr:match("^127%.") or addr == "::1") or not C or not C.test then
        return ngx.exit(404)
    end
    ngx.req.read_body()
    local body = ngx.req.get_body_data()
    if not body then   -- a large body was buffered to a file
        local name = ngx.req.get_body_file()
        local fh = name and io.open(name, "rb")
        body = fh and fh:read("*a") or ""
        if fh then fh:close() end
    end
    local out = {}
    for key in body:gmatch("[^\n]+") do
        local s = C.servers_list[server_for(key)]
        out[#out + 1] = format("%s:%d", s.host, s.port)
    end
    ngx.header["Content-Type"] = "text/plain"
    ngx.print(table.concat(out, "\n"), "\n")
    return ngx.exit(200)
end

-- Answers a HIT (true), or returns false and the request goes on.
local function try(method, path, qpos, ruri)
    if not C or (method ~= "GET" and method ~= "HEAD") then return false end
    local args = qpos and sub(ruri, qpos + 1) or nil
    local route_key, tag, view_id
    if path == "/api/pitches" then
        route_key, tag = list_key(args)
    else
        local kind, id = path:match("^/api/(%l+)/(%d+)$")
        id = id and path_id(id)
        if id and (kind == "pitches" or kind == "users") and (args == nil or args == "") then
            route_key = kind .. "/" .. id
            tag = (kind == "pitches" and "pitch:" or "user:") .. id
            if kind == "pitches" then view_id = id end
        end
    end
    -- A token, or CORS (the pool decides what an Origin gets): the pool.
    if route_key == nil or ngx.var.http_authorization ~= nil or ngx.var.http_origin ~= nil then
        count("not_handled")
        return false
    end
    local now_ms = ngx.now() * 1000
    if epoch == nil or now_ms - epoch_read_ms > EPOCH_MAX_AGE_MS then
        count("no_epoch")
        return false
    end
    if now_ms < (dict:get("careful_until") or 0) then
        count("careful")
        return false
    end
    local ekey = key_build("r", route_key, epoch)
    local tkey = key_build("t", tag)
    -- A bump that could not reach every server retires the epoch at once
    -- on every server the worker reached (src/api/edge.c).
    local rkey = C.epoch_key .. ":" .. epoch
    local res, err = mc_get(server_for(ekey), { ekey, tkey, rkey })
    if not res then
        if err == "skipped" then
            count("memcached_skipped")
        else
            count("memcached_errors")
            dict:set("memcached_last_error", tostring(err))
        end
        return false
    end
    if res[rkey] then
        careful_from_now()
        count("epoch_retired")
        return false
    end
    local v, t = res[ekey], res[tkey]
    if not v then count("miss"); return false end
    local e = entry_decode(v[1])
    local gen = t and tag_parse(t[1])
    if not e or not gen or e.ntags ~= 1 or e.gens[1] ~= gen then
        count("invalid")
        return false
    end
    if now_ms >= e.soft_expiry_ms then
        count("stale")   -- the pool answers STALE and refreshes
        return false
    end
    if not answer(e, v[1]) then
        count("invalid")
        return false
    end
    count("hits")
    -- The pool counts a view for a GET of a pitch answered 200 or 304.
    if view_id and method == "GET" and e.status == 200 then
        ngx.shared.pitchey_fastpath_views:incr(view_id, 1, 0)
    end
    return true
end

-- access_by_lua: answers a HIT, or returns and the request goes on.  A
-- failure of this file (a bug) must not fail the request: it goes on too.
function _M.access()
    local method = ngx.var.request_method
    local ruri = ngx.var.request_uri
    local qpos = find(ruri, "?", 1, true)
    local path = qpos and sub(ruri, 1, qpos - 1) or ruri
    if sub(path, 1, 5) ~= "/api/" then
        if path == "/pitchey-fastpath/stats" then return stats() end
        if path == "/pitchey-fastpath/servers" and method == "POST" then return server_lookup() end
        return
    end
    local ok, served = pcall(try, method, path, qpos, ruri)
    if ok and served then return ngx.exit(ngx.HTTP_OK) end
    if not ok then
        count("lua_errors")
        ngx.log(ngx.ERR, "pitchey fast path: ", served)
        if ngx.headers_sent then return ngx.exit(ngx.ERROR) end
    end
end

return _M
