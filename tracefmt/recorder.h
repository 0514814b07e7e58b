/*
 * novatrace recorder ring buffers, format version 1.
 *
 * The binary layout a NOVA-side recorder writes: one ring per CPU, each a 128-byte header followed by
 * `capacity` fixed-size records of 72 bytes. Every field is little-endian and naturally aligned. Decoded by
 * `novatrace import rings` (tracefmt/capture/); documented in tracefmt/FORMAT.md section 8. Types and
 * constants only: freestanding C11 (<stdint.h>, <stddef.h>), no code, no allocation.
 *
 * One record is one row of the novatrace event table (FORMAT.md section 4), minus the columns the decoder
 * derives: `cpu` comes from the ring header, `hc` from the raw hypercall number (tracefmt.decode.fill_hc),
 * so the recorder never decodes a hypercall.
 *
 * Writing a record (on the CPU that owns the ring, with interrupts disabled, so no lock is needed):
 *
 *   ts = the STC now
 *   room = mode == NT_MODE_DROP ? capacity - (wrap_count * capacity + write_pos - read_pos) : capacity
 *   if (flags & NT_FLAG_FROZEN) or room < (lost_pending ? 2 : 1):          drop it:
 *       seq = next_seq++; dropped++;
 *       if (!lost_pending) { lost_first_seq = seq; lost_first_ts = ts; }
 *       lost_pending++; lost_last_ts = ts; return
 *   if (lost_pending) {                                   the loss record gets its own sequence number,
 *       put(NT_KIND_RECORDER_LOSS, next_seq++, ts, ec,    after the lost ones
 *           a0 = lost_pending, a1 = lost_first_ts, a2 = lost_last_ts, a3 = lost_first_seq, a4 = 0);
 *       lost_pending = 0;
 *   }
 *   put(kind, next_seq++, ts, ec, a0 .. a4)
 *
 *   put(kind, seq, ...):
 *       r = &ring[write_pos]
 *       r->stamp = seq                        FIRST, then a store barrier (smp_wmb / dmb ishst)
 *       r->ts, r->ec, r->a0 .. r->a4          one plain store each
 *       r->commit = ~(seq << 8 | kind)        LAST, a release store
 *       if (++write_pos == capacity) { write_pos = 0; wrap_count++; }
 *
 * Torn records: a record is whole iff commit == ~(stamp << 8 | kind) for the kind in commit bits 7:0. A slot
 * the recorder was overwriting when the machine stopped holds the new stamp and the old commit (or the old
 * stamp and a half-written payload, which a reader cannot see before the barrier), so it fails the check;
 * a never-written slot is all zeroes, and ~0 != 0, so it fails too. The decoder skips such slots and accounts
 * for the missing sequence numbers from next_seq and the neighbouring records.
 *
 * Modes: NT_MODE_OVERWRITE (a flight recorder, the default) never drops; the oldest record is overwritten,
 * so a dump holds the newest `capacity` records. NT_MODE_DROP keeps records until a consumer advances
 * read_pos; while the ring is full new records are dropped and counted. NT_FLAG_FROZEN (set by a dumper
 * while it copies the ring) makes the recorder drop and count in either mode, so a live dump is consistent.
 *
 * Sequence numbers: per CPU, +1 for every record written or dropped, starting at base_seq, below 2^56.
 * ts: the System Time Counter (x86 TSC, Arm CNTVCT), read with the sequence number; it never decreases
 * from one sequence number to the next on one CPU. Object ids are kernel addresses (EC:%p).
 */

#ifndef NOVATRACE_RECORDER_H
#define NOVATRACE_RECORDER_H

#include <stddef.h>
#include <stdint.h>

#define NT_RING_MAGIC       0x5254564eu /* "NVTR" in memory */
#define NT_RING_VERSION     1u
#define NT_HEADER_SIZE      128u
#define NT_RECORD_SIZE      72u
#define NT_SEQ_BITS         56u        /* commit keeps seq in bits 63:8 */
#define NT_KIND_MASK        0xffu

#define NT_MODE_OVERWRITE   0u         /* the oldest record is overwritten; nothing is dropped */
#define NT_MODE_DROP        1u         /* the newest record is dropped while the ring is full */
#define NT_FLAG_FROZEN      0x1u       /* a dumper is copying the ring: drop (and count) every record */

struct nt_ring_header {
    uint32_t magic;          /* +0   NT_RING_MAGIC */
    uint16_t version;        /* +4   NT_RING_VERSION */
    uint16_t header_size;    /* +6   NT_HEADER_SIZE; records start here */
    uint16_t record_size;    /* +8   NT_RECORD_SIZE; later versions may append record fields */
    uint16_t cpu;            /* +10  CPU that owns this ring */
    uint16_t mode;           /* +12  NT_MODE_* */
    uint16_t flags;          /* +14  NT_FLAG_* */
    uint64_t stc_hz;         /* +16  STC frequency (HIP / INFO: FREQ) */
    uint64_t capacity;       /* +24  record slots in the ring */
    uint64_t write_pos;      /* +32  slot of the next record, 0 .. capacity-1 */
    uint64_t wrap_count;     /* +40  times write_pos wrapped to 0 */
    uint64_t dropped;        /* +48  records dropped since set-up (never reset) */
    uint64_t next_seq;       /* +56  sequence number of the next record */
    uint64_t base_seq;       /* +64  sequence number of the first record */
    uint64_t read_pos;       /* +72  NT_MODE_DROP: records a consumer has taken (total), else 0 */
    uint64_t lost_pending;   /* +80  dropped records not yet covered by a RECORDER_LOSS record */
    uint64_t lost_first_seq; /* +88  first of them */
    int64_t  lost_first_ts;  /* +96  STC time of the first of them */
    int64_t  lost_last_ts;   /* +104 STC time of the last of them */
    uint64_t reserved0;      /* +112 zero */
    uint64_t reserved1;      /* +120 zero */
};

struct nt_record {
    uint64_t stamp;          /* +0   sequence number, stored first */
    int64_t  ts;             /* +8   STC ticks */
    int64_t  ec;             /* +16  the event's EC column (FORMAT.md 4) */
    int64_t  a0;             /* +24  argument words, meaning per kind (table below) */
    int64_t  a1;             /* +32 */
    int64_t  a2;             /* +40 */
    int64_t  a3;             /* +48 */
    int64_t  a4;             /* +56 */
    uint64_t commit;         /* +64  ~(stamp << 8 | kind), stored last */
};

/*
 * Event kinds: the `kind` in commit bits 7:0, and what `ec` and a0..a4 hold (FORMAT.md 4.1; "-" = 0).
 *
 *   #  kind            ec           a0 a1 a2 a3 a4
 *   0  HC_ENTRY        caller       p0 p1 p2 p3 p4
 *   1  HC_EXIT         caller       ret_p0 out_p1 out_p2 created number
 *   2  IRQ_ARRIVAL     interrupted  vector irq source irq_kind event_id
 *   3  IRQ_MASK        current      irq irq_kind cause - -
 *   4  IRQ_UNMASK      current      irq irq_kind cause - -
 *   5  IRQ_EOI         current      irq irq_kind cause - -
 *   6  IRQ_DEACTIVATE  current      irq irq_kind cause - -
 *   7  SM_UP           current      sm counter woken up_cause irq
 *   8  SM_BLOCK        blocked      sm deadline sc - -
 *   9  EC_WAKE         current      woken wake_reason object target_cpu -
 *  10  SCHED_SWITCH    to_ec        from_ec to_ec from_sc to_sc switch_reason
 *  11  IPI_SEND        current      target_cpu ipi - - -
 *  12  IPI_RECV        current      source_cpu ipi - - -
 *  13  INTR_FAULT      current      source fault info unit -
 *  14  TIMEOUT         current      timeout_kind object deadline - -
 *  15  RECORDER_LOSS   current      lost first_ts last_ts first_seq -
 *  16  MARKER          current      marker subject value string -
 *  17  EC_KILL         current      killed kill_reason - - -
 *  18  EVENT_DELIVERY  faulting     event handler event_class portal -
 *  19  OBJ_CREATED     creator      object type selector owner detail
 */
enum nt_kind {
    NT_KIND_HC_ENTRY = 0,
    NT_KIND_HC_EXIT = 1,
    NT_KIND_IRQ_ARRIVAL = 2,
    NT_KIND_IRQ_MASK = 3,
    NT_KIND_IRQ_UNMASK = 4,
    NT_KIND_IRQ_EOI = 5,
    NT_KIND_IRQ_DEACTIVATE = 6,
    NT_KIND_SM_UP = 7,
    NT_KIND_SM_BLOCK = 8,
    NT_KIND_EC_WAKE = 9,
    NT_KIND_SCHED_SWITCH = 10,
    NT_KIND_IPI_SEND = 11,
    NT_KIND_IPI_RECV = 12,
    NT_KIND_INTR_FAULT = 13,
    NT_KIND_TIMEOUT = 14,
    NT_KIND_RECORDER_LOSS = 15,
    NT_KIND_MARKER = 16,
    NT_KIND_EC_KILL = 17,
    NT_KIND_EVENT_DELIVERY = 18,
    NT_KIND_OBJ_CREATED = 19,
    NT_KIND_COUNT = 20,
};

/* Enumerations stored in argument words (FORMAT.md 4.2). */
enum nt_irq_kind {
    NT_IRQ_KIND_UNKNOWN = 0,
    NT_IRQ_KIND_X86_PIN = 1,
    NT_IRQ_KIND_X86_MSI = 2,
    NT_IRQ_KIND_ARM_SGI = 3,
    NT_IRQ_KIND_ARM_PPI = 4,
    NT_IRQ_KIND_ARM_SPI = 5,
    NT_IRQ_KIND_ARM_LPI = 6,
};

enum nt_cause {
    NT_CAUSE_ARRIVAL = 0,
    NT_CAUSE_DOWN = 1,
    NT_CAUSE_ASSIGN = 2,
    NT_CAUSE_GUEST = 3,
    NT_CAUSE_KERNEL = 4,
};

enum nt_up_cause {
    NT_UP_CAUSE_HYPERCALL = 0,
    NT_UP_CAUSE_INTERRUPT = 1,
    NT_UP_CAUSE_CONSOLE = 2,
};

enum nt_wake_reason {
    NT_WAKE_REASON_SM_UP = 0,
    NT_WAKE_REASON_TIMEOUT = 1,
    NT_WAKE_REASON_IPC_REPLY = 2,
    NT_WAKE_REASON_ABORTED = 3,
    NT_WAKE_REASON_RECALL = 4,
    NT_WAKE_REASON_STARTUP = 5,
};

enum nt_switch_reason {
    NT_SWITCH_REASON_BLOCK = 0,
    NT_SWITCH_REASON_PREEMPT = 1,
    NT_SWITCH_REASON_BUDGET = 2,
    NT_SWITCH_REASON_IPC_CALL = 3,
    NT_SWITCH_REASON_IPC_REPLY = 4,
    NT_SWITCH_REASON_HELP = 5,
    NT_SWITCH_REASON_KILL = 6,
    NT_SWITCH_REASON_WAKE = 7,
    NT_SWITCH_REASON_OTHER = 8,
};

enum nt_kill_reason {
    NT_KILL_REASON_PT_NOT_FOUND = 0,
    NT_KILL_REASON_PT_WRONG_CPU = 1,
    NT_KILL_REASON_IPC_ABORT = 2,
    NT_KILL_REASON_BLOCKING = 3,
    NT_KILL_REASON_ILLEGAL = 4,
    NT_KILL_REASON_VM_ENTRY = 5,
};

enum nt_timeout_kind {
    NT_TIMEOUT_KIND_HYPERCALL = 0,
    NT_TIMEOUT_KIND_BUDGET = 1,
};

enum nt_fault {
    NT_FAULT_IR_SID_MISMATCH = 0,
    NT_FAULT_IR_NOT_PRESENT = 1,
    NT_FAULT_ITS_UNMAPPED_DEVICE = 2,
    NT_FAULT_ITS_UNMAPPED_EVENT = 3,
    NT_FAULT_OTHER = 4,
};

enum nt_marker {
    NT_MARKER_GENERIC = 0,
    NT_MARKER_EXPECT_IRQ = 1,
    NT_MARKER_PHASE_BEGIN = 2,
    NT_MARKER_PHASE_END = 3,
};

enum nt_event_class {
    NT_EVENT_CLASS_STARTUP = 0,
    NT_EVENT_CLASS_RECALL = 1,
    NT_EVENT_CLASS_EXCEPTION = 2,
    NT_EVENT_CLASS_VMEXIT = 3,
    NT_EVENT_CLASS_VTIMER = 4,
};

enum nt_ipi {
    NT_IPI_RRQ = 0,
    NT_IPI_RKE = 1,
};

_Static_assert(sizeof(struct nt_ring_header) == NT_HEADER_SIZE, "ring header is 128 bytes");
_Static_assert(sizeof(struct nt_record) == NT_RECORD_SIZE, "record is 72 bytes");
_Static_assert(offsetof(struct nt_ring_header, stc_hz) == 16, "header words are 8-byte aligned");
_Static_assert(offsetof(struct nt_ring_header, reserved1) == 120, "header layout");
_Static_assert(offsetof(struct nt_record, ts) == 8, "record layout");
_Static_assert(offsetof(struct nt_record, commit) == 64, "commit is the last word");
_Static_assert(NT_KIND_COUNT <= NT_KIND_MASK + 1, "kinds fit in commit bits 7:0");

#endif /* NOVATRACE_RECORDER_H */
