//! # matthan — road cameras to a searchable vehicle and licence-plate log
//!
//! # Layout
//!
//! - [`scene`]: PURE. Boxes in frame pixels and vehicle classes, shared by recognizer and tracker.
//! - [`plate`]: PURE. Vietnamese plate grammar: canonical key, display form, province table,
//!   position-wise decoding of OCR candidates, confusion-folded keys for fuzzy search, whole
//!   plates versus fragments (pieces of a plate, kept apart as partial reads).
//! - [`recognize`]: ONNX Runtime sessions and their pre/post-processing: vehicle detection,
//!   plate detection, line splitting and OCR. `fn(&RgbImage) -> Recognition`. The detectors
//!   run the lean graphs that `scripts/lean-models` derives at setup (`recognize::graphs`
//!   names them; `ModelSet::Original` runs the exports as shipped). Plate text is read by
//!   PP-OCR, by our own plate reader (`recognize::reader`, trained in `training/`), or by
//!   both (`TextReader`).
//! - [`video`]: FFmpeg edge: open a file or RTSP camera behind the packet-source seam
//!   (`Opener` → `PacketStream` of opaque `Packet`s), record MP4 segments (remux, never
//!   re-encode), decode and sample frames with wall-clock times (grey thumbnails and RGB on
//!   demand), export a time window as one MP4, probe a file's length and frame size. No other
//!   module sees an FFmpeg type.
//! - [`motion`]: PURE. The motion gate: grey thumbnails of the luma plane, frame differencing
//!   with a mask, and which sampled frames are worth the detectors.
//! - [`infer`]: the inference service shared by all cameras: worker threads owning the model
//!   sessions, one bounded lane per camera, round-robin scheduling.
//! - [`pipeline`]: wires one camera (`mod.rs`): `reader` (source → recorder, reconnects; no
//!   recorder for a recorded segment read again) →
//!   `decoder` (decode, motion gate) → `analysis` (cascade: vehicles, then plates only where
//!   a track needs a read → tracker) → `events` (clip segments, passages, snapshots, store
//!   rows), with bounded queues between threads.
//! - [`reread`]: a camera's recorded segments of a time window read again by the current
//!   recognizer (`matthan reread`), logged as a new analysis run beside the live passages;
//!   its window and run key are PURE (`plan`), one segment's reading is `segment`.
//! - [`counters`]: PURE. Per-camera packet and frame counters and the board `/metrics` reads.
//! - [`cpu`]: CPU time of a thread and the process, peak memory (for `bench streams`).
//! - [`store`]: the PostgreSQL log: migrations (`sql/`), private cluster when no
//!   `DATABASE_URL`, read-write sessions only (with several hosts, the one that is the primary;
//!   `store::primary` names what each is when none is), batched idempotent writer with its
//!   on-disk spool for when the database is down, each row a node made fenced by its camera's
//!   lease epoch, and every query (search, counts, clips, analysis runs, nodes and camera
//!   leases; users, audit, watchlist, alerts).
//! - [`api`]: axum HTTP API and the static page in `web/`, served by `matthan serve`; every
//!   `/api` request is authenticated, checked against its route's role and audited.
//! - [`access`]: PURE. Roles, the role each route needs, tokens (stored hashed), argon2
//!   password hashes, the reason rule.
//! - [`evidence`]: a passage's evidence package (`GET /api/passages/{id}/evidence`, `matthan
//!   evidence export`): one ZIP of the clip of its window (remuxed), snapshot, passage with
//!   its candidates, camera and junction, the audit rows about it and a manifest of every
//!   file's SHA-256 signed with the station's Ed25519 key; checking one (`matthan evidence
//!   verify`) names every file that differs. `manifest`, `check` and `readme` are PURE; `key`
//!   (the station key file), `package` (the ZIP) and `assemble` (the log, the clip) do the I/O.
//! - [`node_token`]: PURE. Node tokens: HMAC-SHA256 of the issuing node's name and a
//!   60 s expiry under the cluster secret, made and checked (no clock: the time is passed in).
//! - [`peer`]: files on other nodes: whose disk holds a clip segment or snapshot (the log's
//!   `node_id`), asking the owner node's internal route with a node token (ranges passed on,
//!   bodies streamed), copies checked against the logged SHA-256, the owner side's token check.
//! - [`alerts`]: watchlist alerts after the write: the database's notifications fanned out
//!   to the page (SSE), and the webhook outbox with retries.
//! - [`road`]: PURE. The road as one picture: a plate's sightings across junctions (km
//!   markers) grouped into trips, hops with travel time and speed, impossible hops (a misread
//!   or a cloned plate) and junctions passed by while they were recording (a missed read).
//! - [`retention`]: deletes the oldest clip segments first when the disk is nearly full or
//!   they are older than their retention, old snapshots, and drops old passage months.
//! - [`lease`]: PURE. Nodes sharing the cameras: lease timings and the takeover bound, how many
//!   free cameras a node takes (an even share, up to its capacity; pinned cameras first),
//!   which running cameras it must stop, and the fencing rule the writer applies to every row
//!   a node makes (its lease epoch, when it was made).
//! - [`app`]: everything `matthan serve` runs (database and writer, this process as a node
//!   with the live cameras it holds leases on, API with alerts and webhook, retention),
//!   started in order and stopped together on one signal: `node` (register, heartbeat,
//!   renew, take and lose leases) and `live` (start and stop one camera, its rows fenced).
//!   `app` → `api`, `pipeline`, `infer`, `store`, `alerts`, `retention`; nothing imports `app`.
//! - [`config`]: typed TOML configuration (storage, analysis, junctions, cameras).
//! - [`install`]: `matthan install`: the systemd unit, journald drop-in, service user and
//!   config template (files under `deploy/`, embedded), planned PURE and written under a
//!   prefix; an existing config is never overwritten.
//! - [`check`]: `matthan check`: models, database and schema, cameras (a first frame),
//!   disk and retention headroom, clock; findings to lines and the exit code are PURE
//!   (`report`), the probes at the edge.
//! - [`digest`]: SHA-256 of files (pinned models, clip segments as evidence).
//! - [`eval`]: scores the recognizer against a labelled folder (`labels.csv`).
//! - [`track`]: PURE. Multi-object tracker, passage assembly, plate voting, direction, line crossing,
//!   vehicle looks (another vehicle in a settled track's box), rejoining a broken track by its plate.
//! - [`traffic`]: traffic video evaluation: the truth file of what passed, and scoring of
//!   passages against it.
//! - [`synth`]: the traffic video maker (`matthan make-traffic`): eval photos of vehicles
//!   driving past a roadside camera (following, stopping, overtaking, day or night), encoded
//!   by the `ffmpeg` command, with the truth file of what passed. Its scenario (`camera`,
//!   `model`, `road`, `arrivals`, `drive`, `plan`, `truth`) is PURE; `photos`, `render` and
//!   `encode` do the I/O.
//!
//! Arrows point one way (every `crate::` import, checked by reading the tree; no cycles, also
//! none between the files of one module):
//! - `app` → `api`, `pipeline`, `infer`, `recognize` (settings), `store`, `alerts`,
//!   `retention`, `config`, `video` (shutdown), `evidence` (the key's place), `lease`,
//!   `counters`, `peer` (its settings, the node it runs as); nothing in the library imports
//!   `app`.
//! - `api` → `store`, `video` (clip export), `counters`, `alerts`, `access`, `plate` (search
//!   patterns), `scene` (class filter), `road` (its rules), `evidence` (packages, the station
//!   key), `peer` (files on other nodes). Never `pipeline`, `infer` or `recognize`.
//! - `evidence` → `store` (the passage, its camera, audit rows; its own audit row), `video`
//!   (the clip, cut from segments), `digest`, `peer` (segments and snapshots on other nodes).
//! - `peer` → `store` (nodes, the cluster secret), `node_token`.
//! - `pipeline` → `video`, `infer`, `motion`, `track`, `counters`, `cpu`, `store` (rows),
//!   `config` (camera settings from the file), `recognize` and `scene` (types).
//! - `store` → `plate` (keys, search keys), `scene` and `track` (class and direction types),
//!   `road` (a corridor's trips), `access` (token hashes), `config` (junctions and cameras to
//!   sync), `lease` (the fence, a node's share of the cameras).
//! - `reread` → `pipeline` (the camera without recording), `store` (rows), `video` (the
//!   source and shutdown), `digest` (the segments' SHA-256); nothing imports `reread`.
//! - `check` → `config`, `recognize` (the lock), `store` (schema, clock, clips, the private
//!   cluster's place), `video` (opener, decoder), `retention` (disk space); nothing imports
//!   `check`.
//! - `install` → `config` (only its tests, which parse the template); nothing imports it.
//! - `alerts` → `store`; `retention` → `store`, `config`; `infer` → `recognize`, `cpu`;
//!   `eval` → `recognize`; `config` → `motion`, `recognize`, `road` (their settings), `lease`
//!   (the shortest lease).
//! - `recognize` → `plate`, `scene`, `motion` (crop looks), `digest`; `video` → `motion`,
//!   `digest`; `track` → `plate`, `scene`; `traffic` → `plate`, `scene`, `track` (types);
//!   `synth` → `traffic` (the truth file), `plate`, `scene`, `track` (types).
//! - `road` → `track` (direction type).
//! - `plate`, `scene`, `motion`, `track`, `road`, `access`, `lease` and `node_token` do no I/O; `counters`, `cpu` and
//!   `digest` import nothing of the crate.
//!
//! The binary (`src/main.rs`) parses the command line and hands each command to its file in
//! `src/cli/`; only the binary uses anyhow.

pub mod access;
pub mod alerts;
pub mod api;
pub mod app;
pub mod check;
pub mod config;
pub mod counters;
pub mod cpu;
pub mod digest;
pub mod eval;
pub mod evidence;
pub mod infer;
pub mod install;
pub mod lease;
pub mod motion;
pub mod node_token;
pub mod peer;
pub mod pipeline;
pub mod plate;
pub mod recognize;
pub mod reread;
pub mod retention;
pub mod road;
pub mod scene;
pub mod store;
pub mod synth;
pub mod track;
pub mod traffic;
pub mod video;
