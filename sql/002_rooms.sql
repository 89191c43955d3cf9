-- 002_rooms: the rooms daemon's history, per-room counters and cluster
-- presence (pitchey-rooms(8)).
--
-- A message takes its room's next seq with UPDATE ... RETURNING on the
-- room's counter row inside the inserting statement, so seqs are handed out
-- in commit order and a node that reads "seq > last" never skips one that
-- commits later.  NOTIFY (pitchey_rooms, pitchey_presence) only wakes the
-- nodes; these tables are the record.

CREATE TABLE rooms (
    name text PRIMARY KEY,
    seq  bigint NOT NULL
);

CREATE TABLE room_messages (
    room       text NOT NULL,
    seq        bigint NOT NULL,
    user_id    bigint NOT NULL,
    data       jsonb NOT NULL,
    created_at timestamptz NOT NULL DEFAULT clock_timestamp(),
    PRIMARY KEY (room, seq)
);

-- One row per running daemon; a node silent for node_timeout is removed,
-- with its members, by any other node.
CREATE TABLE room_nodes (
    node_id      bigint PRIMARY KEY,
    started_at   timestamptz NOT NULL DEFAULT clock_timestamp(),
    heartbeat_at timestamptz NOT NULL DEFAULT clock_timestamp()
);

-- Presence is per user: a node has one row per (room, user) however many
-- connections of that user it holds.
CREATE TABLE room_members (
    node_id   bigint NOT NULL,
    room      text NOT NULL,
    user_id   bigint NOT NULL,
    joined_at timestamptz NOT NULL DEFAULT clock_timestamp(),
    PRIMARY KEY (room, user_id, node_id)
);
CREATE INDEX room_members_node_idx ON room_members (node_id);
