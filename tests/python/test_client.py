"""rekamd seen from a client nobody in the project wrote: Python grpcio with stubs generated
from proto/ (run it through run.sh, which generates them and puts them on sys.path).

The daemon is found from REKAM_ADDR (host:port or http://host:port), else REKAM_SOCKET
(a socket path, or any grpc target such as unix:/path or 127.0.0.1:50051), else the default
socket path that rekamd and rekamctl use.

Prints one line per test, then `N passed, N failed` on its own line; exits non-zero when a
test failed.
"""

import os
import sys
import time
import traceback

import grpc
from google.rpc import error_details_pb2
from google.type import date_pb2
from grpc_health.v1 import health_pb2, health_pb2_grpc
from grpc_status import rpc_status
from grpc_reflection.v1alpha import reflection_pb2, reflection_pb2_grpc

from rekam.v1 import common_pb2
from rekam.v1 import devices_pb2, devices_pb2_grpc
from rekam.v1 import enrollment_pb2 as en
from rekam.v1 import enrollment_pb2_grpc
from rekam.v1 import printer_pb2, printer_pb2_grpc
from rekam.v1 import sessions_pb2, sessions_pb2_grpc
from rekam.v1 import audit_pb2, audit_pb2_grpc
from rekam.v1 import complaints_pb2 as cp
from rekam.v1 import complaints_pb2_grpc
from rekam.v1 import reports_pb2, reports_pb2_grpc
from rekam.v1 import encoder_pb2, encoder_pb2_grpc
from rekam.v1 import iris_pb2, iris_pb2_grpc

# Generous: simulators may run at realistic speed.
CALL_TIMEOUT = float(os.environ.get("REKAM_PY_TIMEOUT", "60"))

DEMO_KK = "3171010101090001"


def default_socket_path():
    """The same rules as rekamd and rekamctl (see rekamctl's default_socket_path)."""
    sock = os.environ.get("REKAM_SOCKET")
    if sock:
        return sock
    xdg = os.environ.get("XDG_RUNTIME_DIR")
    if xdg:
        return os.path.join(xdg, "rekam", "rekamd.sock")
    try:
        uid = os.stat("/proc/self").st_uid
    except OSError:
        uid = 0
    return "/tmp/rekam-%d/rekamd.sock" % uid


def target():
    """The grpc target of the daemon under test."""
    addr = os.environ.get("REKAM_ADDR")
    if addr:
        for prefix in ("http://", "https://"):
            if addr.startswith(prefix):
                addr = addr[len(prefix):]
        return addr.rstrip("/")
    t = default_socket_path()
    if t.startswith(("unix:", "unix-abstract:", "dns:", "ipv4:", "ipv6:")):
        return t
    if t.startswith("/") or t.startswith("."):
        return "unix:" + os.path.abspath(t)
    return t  # host:port


def stage_name(stage):
    return en.EnrollmentStage.Name(stage)


class Client:
    """Stubs on one channel."""

    def __init__(self, channel):
        self.channel = channel
        self.devices = devices_pb2_grpc.DeviceServiceStub(channel)
        self.sim = devices_pb2_grpc.SimulationServiceStub(channel)
        self.enroll = enrollment_pb2_grpc.EnrollmentServiceStub(channel)
        self.printer = printer_pb2_grpc.PrinterServiceStub(channel)
        self.sessions = sessions_pb2_grpc.SessionServiceStub(channel)
        self.audit = audit_pb2_grpc.AuditServiceStub(channel)
        self.complaints = complaints_pb2_grpc.ComplaintServiceStub(channel)
        self.reports = reports_pb2_grpc.ReportServiceStub(channel)
        self.encoder = encoder_pb2_grpc.EncoderServiceStub(channel)

    def device_of_class(self, cls):
        devs = self.devices.ListDevices(
            devices_pb2.ListDevicesRequest(), timeout=CALL_TIMEOUT
        ).devices
        for d in devs:
            if d.device_class == cls:
                return d
        raise AssertionError(
            "no device of class %s" % devices_pb2.DeviceClass.Name(cls)
        )


# NIK serials differ between runs, in case the daemon refuses a NIK enrolled before.
_SERIAL_BASE = (os.getpid() * 31 + int(time.time())) % 9000


def applicant(k):
    """A valid applicant: a woman born 7 August 1990 in Gambir (region 317101, birth date
    470890 = day 7 + 40); `k` keeps the NIKs of the tests apart."""
    return en.Applicant(
        nik="317101470890%04d" % (1 + (_SERIAL_BASE + k) % 9999),
        kk_number=DEMO_KK,
        name="SITI RAHAYU",
        birth_place="JAKARTA",
        birth_date=date_pb2.Date(year=1990, month=8, day=7),
        sex=en.SEX_FEMALE,
        address="JL. MEDAN MERDEKA BARAT NO. 12",
        rt=3,
        rw=5,
        village="GAMBIR",
        district="GAMBIR",
        regency="JAKARTA PUSAT",
        province="DKI JAKARTA",
        religion=en.RELIGION_ISLAM,
        marital_status=en.MARITAL_STATUS_MARRIED,
        occupation="KARYAWAN SWASTA",
        citizenship=en.CITIZENSHIP_WNI,
        blood_type=en.BLOOD_TYPE_O,
    )


def error_details(err):
    """The google.rpc details of a failed call: (ErrorInfo, LocalizedMessage, BadRequest,
    RetryInfo), each None when absent."""
    status = rpc_status.from_call(err)
    found = {}
    if status is not None:
        for any_ in status.details:
            for cls in (
                error_details_pb2.ErrorInfo,
                error_details_pb2.LocalizedMessage,
                error_details_pb2.BadRequest,
                error_details_pb2.RetryInfo,
            ):
                if any_.Is(cls.DESCRIPTOR):
                    msg = cls()
                    any_.Unpack(msg)
                    found[cls] = msg
    return (
        found.get(error_details_pb2.ErrorInfo),
        found.get(error_details_pb2.LocalizedMessage),
        found.get(error_details_pb2.BadRequest),
        found.get(error_details_pb2.RetryInfo),
    )


def expect_code(code, fn, *args, **kwargs):
    """Calls fn and checks it fails with the given status code; returns the error."""
    try:
        fn(*args, timeout=CALL_TIMEOUT, **kwargs)
    except grpc.RpcError as e:
        if e.code() != code:
            raise AssertionError(
                "expected %s, got %s: %s" % (code, e.code(), e.details())
            )
        return e
    raise AssertionError("expected %s, the call succeeded" % code)


def check_stage(e, want, step):
    got = stage_name(e.stage)
    if got != want:
        raise AssertionError("after %s: stage %s, expected %s" % (step, got, want))


def run_to_sent(c, serial):
    """Creates an enrollment and runs it to SENT, checking the stage after each step."""
    e = c.enroll.CreateEnrollment(
        en.CreateEnrollmentRequest(applicant=applicant(serial)), timeout=CALL_TIMEOUT
    )
    check_stage(e, "ENROLLMENT_STAGE_CREATED", "CreateEnrollment")
    assert e.name.startswith("enrollments/"), "the enrollment's name: %r" % e.name
    eid = e.name
    step = en.StepRequest(name=eid)
    e = c.enroll.CheckDocuments(
        en.CheckDocumentsRequest(name=eid, kk_number_on_document=DEMO_KK),
        timeout=CALL_TIMEOUT,
    )
    check_stage(e, "ENROLLMENT_STAGE_DOCUMENTS_CHECKED", "CheckDocuments")
    e = c.enroll.VerifyIdentity(step, timeout=CALL_TIMEOUT)
    check_stage(e, "ENROLLMENT_STAGE_IDENTITY_VERIFIED", "VerifyIdentity")
    e = c.enroll.CaptureFace(step, timeout=CALL_TIMEOUT)
    check_stage(e, "ENROLLMENT_STAGE_IDENTITY_VERIFIED", "CaptureFace")
    assert e.recording.face, "face not recorded"
    assert e.recording.face_width > 0 and e.recording.face_height > 0
    # The station's face checks: each measured and passed; the portrait is the token image.
    checks = {f.name: f for f in e.recording.face_checks}
    assert len(checks) == 10 and all(f.passed for f in checks.values()), checks
    assert checks["eye_distance"].HasField("value") and checks["eye_distance"].value >= 90
    assert checks["eye_distance"].min == 90 and not checks["eye_distance"].HasField("max")
    assert e.recording.face_token
    e = c.enroll.CaptureFingerprints(
        en.CaptureFingerprintsStepRequest(name=eid), timeout=CALL_TIMEOUT
    )
    check_stage(e, "ENROLLMENT_STAGE_IDENTITY_VERIFIED", "CaptureFingerprints")
    fingers = {f.position for f in e.recording.fingers}
    assert fingers == set(range(1, 11)), "fingers recorded: %s" % sorted(fingers)
    for f in e.recording.fingers:
        assert f.missing or 0 < f.quality <= 100, "finger %d quality %d" % (
            f.position,
            f.quality,
        )
    e = c.enroll.CaptureSignature(step, timeout=CALL_TIMEOUT)
    check_stage(e, "ENROLLMENT_STAGE_IDENTITY_VERIFIED", "CaptureSignature")
    assert e.recording.signature and e.recording.signature_samples > 0
    e = c.enroll.FinishRecording(step, timeout=CALL_TIMEOUT)
    check_stage(e, "ENROLLMENT_STAGE_RECORDED", "FinishRecording")
    e = c.enroll.Send(step, timeout=CALL_TIMEOUT)
    check_stage(e, "ENROLLMENT_STAGE_SENT", "Send")
    assert e.send_reference, "no send reference"
    return eid


# ---- the tests -----------------------------------------------------------------------


def test_devices_five_classes(c):
    devs = c.devices.ListDevices(
        devices_pb2.ListDevicesRequest(), timeout=CALL_TIMEOUT
    ).devices
    classes = {devices_pb2.DeviceClass.Name(d.device_class) for d in devs}
    want = {
        "DEVICE_CLASS_FINGERPRINT_SCANNER",
        "DEVICE_CLASS_CAMERA",
        "DEVICE_CLASS_SIGNATURE_PAD",
        "DEVICE_CLASS_CARD_PRINTER",
        "DEVICE_CLASS_CHIP_ENCODER",
    }
    assert want <= classes, "classes %s, missing %s" % (
        sorted(classes),
        sorted(want - classes),
    )
    names = [d.name for d in devs]
    assert len(names) == len(set(names)), "duplicate device names: %s" % names
    for d in devs:
        assert d.name.startswith("devices/") and d.vendor and d.model, "incomplete device %r" % d


def test_iris_service_without_an_iris_camera(c):
    """IrisService is served, and the default station (as tests/run.sh starts it) has no
    iris camera: one is there only when configured. Captures from a configured camera
    (iris:sim, iris:sbi) are tested end to end in tests/iris.rs."""
    devs = c.devices.ListDevices(devices_pb2.ListDevicesRequest(), timeout=CALL_TIMEOUT).devices
    assert all(
        d.device_class != devices_pb2.DEVICE_CLASS_IRIS_CAMERA for d in devs
    ), "an iris camera on the default station: %s" % [d.name for d in devs]
    stub = iris_pb2_grpc.IrisServiceStub(c.channel)
    err = expect_code(
        grpc.StatusCode.NOT_FOUND,
        stub.Capture,
        iris_pb2.CaptureIrisRequest(eyes=[iris_pb2.EYE_RIGHT, iris_pb2.EYE_LEFT]),
    )
    info, _, _, _ = error_details(err)
    assert info is not None and info.reason == "DEVICE_NOT_FOUND", info


def test_devices_report_capabilities(c):
    """Every device carries the capabilities message of its class, and the simulators fill
    them in; ListAvailableDevices gives each driver's selector."""
    devs = c.devices.ListDevices(
        devices_pb2.ListDevicesRequest(), timeout=CALL_TIMEOUT
    ).devices
    want = {
        devices_pb2.DEVICE_CLASS_FINGERPRINT_SCANNER: "fingerprint",
        devices_pb2.DEVICE_CLASS_CAMERA: "camera",
        devices_pb2.DEVICE_CLASS_SIGNATURE_PAD: "signature",
        devices_pb2.DEVICE_CLASS_CARD_PRINTER: "printer",
        devices_pb2.DEVICE_CLASS_CHIP_ENCODER: "encoder",
    }
    for d in devs:
        assert d.HasField("capabilities"), "%s has no capabilities" % d.name
        kind = d.capabilities.WhichOneof("kind")
        assert kind == want[d.device_class], "%s: capabilities %s" % (d.name, kind)
        if not d.simulated:
            continue
        caps = getattr(d.capabilities, kind)
        if kind == "fingerprint":
            assert caps.ppi == 500 and caps.live_preview, caps
            assert common_pb2.FINGER_POSITION_RIGHT_FOUR in caps.positions, caps
        elif kind == "camera":
            assert caps.still_width > 0 and caps.preview_formats, caps
            assert caps.preview_formats[0].media_type == "image/jpeg", caps
        elif kind == "signature":
            assert caps.width > 0 and caps.units_per_mm > 0, caps
        elif kind == "printer":
            assert caps.ribbon_type == "YMCKO", caps
        elif kind == "encoder":
            assert caps.contactless, caps
            assert caps.max_apdu_size != devices_pb2.APDU_SIZE_UNSPECIFIED, caps
    avail = c.devices.ListAvailableDevices(
        devices_pb2.ListAvailableDevicesRequest(
            device_class=devices_pb2.DEVICE_CLASS_CARD_PRINTER
        ),
        timeout=CALL_TIMEOUT,
    ).drivers
    selectors = [a.selector for drv in avail for a in drv.devices]
    assert "printer:sim" in selectors, "available printers: %s" % selectors


def test_full_enrollment(c):
    eid = run_to_sent(c, 1)
    step = en.StepRequest(name=eid)
    # The officer checks the recording and the card with the applicant before printing.
    thumb = c.enroll.GetMedia(
        en.GetMediaRequest(name=eid, kind=en.MEDIA_KIND_FACE), timeout=CALL_TIMEOUT
    )
    assert thumb.content_type == "image/jpeg" and max(thumb.width, thumb.height) <= 160, (
        thumb.content_type,
        thumb.width,
        thumb.height,
    )
    assert thumb.data[:2] == b"\xff\xd8", "not a JPEG"
    slap = c.enroll.GetMedia(
        en.GetMediaRequest(
            name=eid,
            kind=en.MEDIA_KIND_SLAP,
            position=common_pb2.FINGER_POSITION_RIGHT_FOUR,
        ),
        timeout=CALL_TIMEOUT,
    )
    assert slap.data[:8] == b"\x89PNG\r\n\x1a\n", "not a PNG"
    preview = c.enroll.RenderCardPreview(
        en.RenderCardPreviewRequest(name=eid), timeout=CALL_TIMEOUT
    )
    assert preview.front_png[:4] == b"\x89PNG" and preview.back_png[:4] == b"\x89PNG"
    e = c.enroll.Print(step, timeout=CALL_TIMEOUT)
    check_stage(e, "ENROLLMENT_STAGE_PRINTED", "Print")
    assert e.print_job.startswith("printJobs/"), "no print job: %r" % e.print_job
    e = c.enroll.Encode(step, timeout=CALL_TIMEOUT)
    check_stage(e, "ENROLLMENT_STAGE_ENCODED", "Encode")
    assert len(e.card_uid) > 0, "no card UID"
    e = c.enroll.HandOver(step, timeout=CALL_TIMEOUT)
    check_stage(e, "ENROLLMENT_STAGE_HANDED_OVER", "HandOver")
    # SIAK's answer is kept, and every artefact is in the signed chain, unchanged.
    assert e.siak.verdict == en.SIAK_VERDICT_MATCH and e.siak.reference, e.siak
    v = c.enroll.VerifyEnrollment(en.VerifyEnrollmentRequest(name=eid), timeout=CALL_TIMEOUT)
    assert v.intact and not v.problems, v
    # face, 3 slaps, signature, package, 2 card images, 6 chip files (EF.COM, 4 DGs, EF.SOD)
    assert v.entries == e.chain_entries and v.entries >= 11, v
    assert v.checked_artefacts >= 10 and len(v.key_id) == 16, v
    # What the station remembers.
    got = c.enroll.GetEnrollment(
        en.GetEnrollmentRequest(name=eid), timeout=CALL_TIMEOUT
    )
    check_stage(got, "ENROLLMENT_STAGE_HANDED_OVER", "GetEnrollment")
    assert got.applicant.nik == applicant(1).nik
    # Kept (in the store, encrypted) until the retention period ends.
    assert not got.wiped
    # The package went through the outbox; the data centre answered print-ready.
    assert got.delivery.size > 0 and got.delivery.print_ready_reference, got.delivery
    assert got.send_reference == got.delivery.print_ready_reference
    outbox = c.enroll.ListDeliveries(
        en.ListDeliveriesRequest(include_delivered=True), timeout=CALL_TIMEOUT
    )
    assert eid in [d.enrollment for d in outbox.deliveries], outbox
    succeeded = [h.step for h in got.history if h.status == en.STEP_STATUS_SUCCEEDED]
    for s in (en.STEP_SEND, en.STEP_PRINT, en.STEP_ENCODE, en.STEP_HAND_OVER):
        assert s in succeeded, "%s missing from the history" % en.Step.Name(s)
    listed = c.enroll.ListEnrollments(
        en.ListEnrollmentsRequest(nik=applicant(1).nik), timeout=CALL_TIMEOUT
    )
    assert [x.name for x in listed.enrollments] == [eid], "ListEnrollments by NIK: %s" % listed
    assert not listed.enrollments[0].history, "the BASIC view has no history"
    # Pages: one at a time, each token leading to the next, every enrollment once.
    seen, token = [], ""
    while True:
        page = c.enroll.ListEnrollments(
            en.ListEnrollmentsRequest(page_size=1, page_token=token), timeout=CALL_TIMEOUT
        )
        seen.extend(x.name for x in page.enrollments)
        token = page.next_page_token
        if not token:
            break
    assert len(seen) == page.total_size == len(set(seen)), (len(seen), page.total_size)
    assert eid in seen, "paging misses %s" % eid


def test_verify_card(c):
    """The chip an enrollment encoded carries a signed profile that verifies against the
    station's issuer; a data group changed afterwards is reported as tampered."""
    eid = run_to_sent(c, 13)
    step = en.StepRequest(name=eid)
    c.enroll.Print(step, timeout=CALL_TIMEOUT)
    e = c.enroll.Encode(step, timeout=CALL_TIMEOUT)
    check_stage(e, "ENROLLMENT_STAGE_ENCODED", "Encode")
    v = c.encoder.VerifyCard(encoder_pb2.VerifyCardRequest(), timeout=CALL_TIMEOUT)
    assert v.valid and v.signature_valid and v.chain_valid, v.report
    ids = sorted(f.file_id for f in v.files)
    assert ids == [0x0101, 0x0102, 0x0103, 0x0107, 0x011D, 0x011E], ids
    assert [(d.number, d.status) for d in v.data_groups] == [
        (n, encoder_pb2.DATA_GROUP_STATUS_OK) for n in (1, 2, 3, 7)
    ], v.data_groups
    # The whole profile fits the 8 KB chip (each file plus 32 bytes of overhead).
    assert sum(len(f.data) + 32 for f in v.files) <= 8192, [len(f.data) for f in v.files]
    dg2 = next(f for f in v.files if f.file_id == 0x0102)
    forged = bytearray(dg2.data)
    forged[-10] ^= 0xFF
    c.encoder.WriteFiles(
        encoder_pb2.WriteFilesRequest(files=[encoder_pb2.ChipFile(file_id=0x0102, data=bytes(forged))]),
        timeout=CALL_TIMEOUT,
    )
    v = c.encoder.VerifyCard(encoder_pb2.VerifyCardRequest(), timeout=CALL_TIMEOUT)
    assert not v.valid, v.report
    status = {d.number: d.status for d in v.data_groups}
    assert status[2] == encoder_pb2.DATA_GROUP_STATUS_TAMPERED, v.report
    assert status[1] == encoder_pb2.DATA_GROUP_STATUS_OK, v.report
    assert "DG2" in v.report and "tampered" in v.report, v.report


def test_step_out_of_order(c):
    e = c.enroll.CreateEnrollment(
        en.CreateEnrollmentRequest(applicant=applicant(2)), timeout=CALL_TIMEOUT
    )
    step = en.StepRequest(name=e.name)
    expect_code(grpc.StatusCode.FAILED_PRECONDITION, c.enroll.Print, step)
    expect_code(grpc.StatusCode.FAILED_PRECONDITION, c.enroll.HandOver, step)
    got = c.enroll.GetEnrollment(
        en.GetEnrollmentRequest(name=e.name), timeout=CALL_TIMEOUT
    )
    check_stage(got, "ENROLLMENT_STAGE_CREATED", "a refused Print")


def test_invalid_nik_and_unknown_id(c):
    bad = applicant(3)
    bad.nik = "12345"
    bad.name = "SITI\nNIK=3171014708900001"
    bad.ClearField("religion")
    err = expect_code(
        grpc.StatusCode.INVALID_ARGUMENT,
        c.enroll.CreateEnrollment,
        en.CreateEnrollmentRequest(applicant=bad),
    )
    info, localized, bad_request, _ = error_details(err)
    assert info is not None, "no ErrorInfo"
    assert (info.domain, info.reason) == ("rekam.v1", "INVALID_REQUEST"), info
    assert localized is not None and localized.locale == "id-ID", localized
    fields = [v.field for v in bad_request.field_violations]
    assert fields == ["applicant.religion", "applicant.nik", "applicant.name"], fields
    assert "3171014708900001" not in err.details(), err.details()
    err = expect_code(
        grpc.StatusCode.NOT_FOUND,
        c.enroll.GetEnrollment,
        en.GetEnrollmentRequest(name="enrollments/no-such-enrollment"),
    )
    info, _, _, _ = error_details(err)
    assert info.reason == "ENROLLMENT_NOT_FOUND", info
    # A bare id, or a name of another collection, is not an enrollment's resource name.
    for wrong in ["no-such-enrollment", "devices/camera0"]:
        err = expect_code(
            grpc.StatusCode.INVALID_ARGUMENT,
            c.enroll.GetEnrollment,
            en.GetEnrollmentRequest(name=wrong),
        )
        info, _, bad_request, _ = error_details(err)
        assert info.reason == "INVALID_REQUEST", info
        assert [v.field for v in bad_request.field_violations] == ["name"], bad_request


def test_device_watch_resumes_after_a_sequence(c):
    camera = c.device_of_class(devices_pb2.DEVICE_CLASS_CAMERA)
    first = c.devices.WatchDevices(
        devices_pb2.WatchDevicesRequest(include_current=True), timeout=CALL_TIMEOUT
    )
    current = [next(first) for _ in range(5)]
    first.cancel()
    seen = current[-1].sequence
    assert all(e.sequence == seen for e in current), [e.sequence for e in current]
    # While nobody watches: the camera is unplugged and comes back.
    try:
        c.sim.InjectFault(
            devices_pb2.InjectFaultRequest(target=camera.name, fault="disconnect"),
            timeout=CALL_TIMEOUT,
        )
    finally:
        c.sim.ClearFaults(
            devices_pb2.ClearFaultsRequest(target=camera.name), timeout=CALL_TIMEOUT
        )
    resumed = c.devices.WatchDevices(
        devices_pb2.WatchDevicesRequest(after_sequence=seen), timeout=CALL_TIMEOUT
    )
    got = [next(resumed) for _ in range(2)]
    resumed.cancel()
    assert [e.sequence for e in got] == [seen + 1, seen + 2], [e.sequence for e in got]
    kinds = [devices_pb2.DeviceEventKind.Name(e.kind) for e in got]
    assert kinds == ["DEVICE_EVENT_KIND_DETACHED", "DEVICE_EVENT_KIND_ATTACHED"], kinds
    assert all(e.device.name == camera.name for e in got), got
    assert got[0].HasField("event_time"), got[0]


def test_card_inserted_and_removed_are_device_events(c):
    encoder = c.device_of_class(devices_pb2.DEVICE_CLASS_CHIP_ENCODER)
    first = c.devices.WatchDevices(
        devices_pb2.WatchDevicesRequest(include_current=True), timeout=CALL_TIMEOUT
    )
    seen = next(first).sequence
    first.cancel()
    # The card leaves the encoder's field, then comes back.
    try:
        c.sim.InjectFault(
            devices_pb2.InjectFaultRequest(target=encoder.name, fault="no_card"),
            timeout=CALL_TIMEOUT,
        )
    finally:
        c.sim.ClearFaults(
            devices_pb2.ClearFaultsRequest(target=encoder.name), timeout=CALL_TIMEOUT
        )
    watch = c.devices.WatchDevices(
        devices_pb2.WatchDevicesRequest(after_sequence=seen), timeout=CALL_TIMEOUT
    )
    got = [next(watch) for _ in range(2)]
    watch.cancel()
    kinds = [devices_pb2.DeviceEventKind.Name(e.kind) for e in got]
    assert kinds == ["DEVICE_EVENT_KIND_CARD_REMOVED", "DEVICE_EVENT_KIND_CARD_INSERTED"], kinds
    assert all(e.device.name == encoder.name for e in got), got
    # The device stayed ready throughout: a card coming and going is not a state change.
    assert all(
        e.device.state.kind == devices_pb2.DEVICE_STATE_KIND_READY for e in got
    ), got


def test_ribbon_out_then_retry(c):
    printer = c.device_of_class(devices_pb2.DEVICE_CLASS_CARD_PRINTER)
    eid = run_to_sent(c, 4)
    step = en.StepRequest(name=eid)
    try:
        r = c.sim.InjectFault(
            devices_pb2.InjectFaultRequest(target=printer.name, fault="ribbon_out"),
            timeout=CALL_TIMEOUT,
        )
        assert "ribbon_out" in r.active, "active faults: %s" % list(r.active)
        err = expect_code(grpc.StatusCode.FAILED_PRECONDITION, c.enroll.Print, step)
        info, _, _, _ = error_details(err)
        assert info.reason == "RIBBON_OUT", info
        got = c.enroll.GetEnrollment(
            en.GetEnrollmentRequest(name=eid), timeout=CALL_TIMEOUT
        )
        check_stage(got, "ENROLLMENT_STAGE_SENT", "a Print that failed")
        assert got.last_error, "last_error is empty after a failed Print"
    finally:
        c.sim.ClearFaults(
            devices_pb2.ClearFaultsRequest(target=printer.name), timeout=CALL_TIMEOUT
        )
    faults = c.sim.ListFaults(
        devices_pb2.ListFaultsRequest(target=printer.name), timeout=CALL_TIMEOUT
    )
    assert not faults.active, "still active after ClearFaults: %s" % list(faults.active)
    e = c.enroll.Print(step, timeout=CALL_TIMEOUT)
    check_stage(e, "ENROLLMENT_STAGE_PRINTED", "Print after clearing the fault")


def test_scenario_status(c):
    """GetScenario: NOT_FOUND with reason NO_SCENARIO when rekamd runs without a scenario
    (as tests/run.sh starts it); with one (`rekamd --scenario FILE`), every target's
    position is consistent with its rules."""
    try:
        s = c.sim.GetScenario(devices_pb2.GetScenarioRequest(), timeout=CALL_TIMEOUT)
    except grpc.RpcError as err:
        assert err.code() == grpc.StatusCode.NOT_FOUND, err
        info, _, _, _ = error_details(err)
        assert info.reason == "NO_SCENARIO", info
        return
    assert s.name and s.path, s
    assert s.targets, "a scenario scripts at least one target"
    for t in s.targets:
        assert t.target in ("siak", "datacentre") or t.target.startswith("devices/"), t
        assert t.rules, t
        assert 0 <= t.current_rule <= len(t.rules), t
        assert 0 <= t.next_rule <= len(t.rules), t
        for r in t.rules:
            assert r.origin.startswith(s.path + ":"), r
            assert r.latency.seconds >= 0, r
        if t.calls == 0:
            assert t.current_rule == 0 and t.next_rule == 1, t
    assert s.finished == all(t.finished for t in s.targets), s


def test_disconnect_during_print_then_retry_uses_one_card(c):
    """A browser reload during Print: the step goes on on the station, and the retry with
    the same request_id answers with the first print instead of printing a second card."""
    eid = run_to_sent(c, 5)
    cards_before = c.printer.GetSupplies(
        printer_pb2.GetSuppliesRequest(), timeout=CALL_TIMEOUT
    ).cards_remaining
    request_id = "py-print-%d" % _SERIAL_BASE
    req = en.StepRequest(name=eid, request_id=request_id)
    # A second connection stands for the browser tab that is reloaded.
    tab = grpc.insecure_channel(target(), options=channel_options(target()))
    future = enrollment_pb2_grpc.EnrollmentServiceStub(tab).Print.future(
        req, timeout=CALL_TIMEOUT
    )
    deadline = time.monotonic() + 30
    op = None
    while time.monotonic() < deadline:
        e = c.enroll.GetEnrollment(
            en.GetEnrollmentRequest(name=eid), timeout=CALL_TIMEOUT
        )
        if e.HasField("running_step") and e.running_step.card_used:
            op = e.running_step
            break
        if future.done():
            break
        time.sleep(0.005)
    assert op is not None, "the print never showed as running with a card fed"
    tab.close()  # the reload: the call and its connection are gone
    assert future.cancelled() or future.done()
    e = c.enroll.Print(req, timeout=CALL_TIMEOUT)
    check_stage(e, "ENROLLMENT_STAGE_PRINTED", "Print retried with the same request_id")
    assert e.print_job == op.print_job, (e.print_job, op.print_job)
    cards_after = c.printer.GetSupplies(
        printer_pb2.GetSuppliesRequest(), timeout=CALL_TIMEOUT
    ).cards_remaining
    assert cards_after == cards_before - 1, "cards %d -> %d" % (cards_before, cards_after)
    prints = [h for h in e.history if h.step == en.STEP_PRINT]
    assert len(prints) == 1 and prints[0].status == en.STEP_STATUS_SUCCEEDED, prints
    assert prints[0].operation == op.name


def test_fingerprint_quality_gate_and_supervisor_override(c):
    e = c.enroll.CreateEnrollment(
        en.CreateEnrollmentRequest(applicant=applicant(6)), timeout=CALL_TIMEOUT
    )
    c.enroll.CheckDocuments(
        en.CheckDocumentsRequest(name=e.name, kk_number_on_document=DEMO_KK),
        timeout=CALL_TIMEOUT,
    )
    c.enroll.VerifyIdentity(en.StepRequest(name=e.name), timeout=CALL_TIMEOUT)
    strict = en.CaptureFingerprintsStepRequest(name=e.name, min_quality=100, max_attempts=1)
    err = expect_code(grpc.StatusCode.FAILED_PRECONDITION, c.enroll.CaptureFingerprints, strict)
    info, localized, _, _ = error_details(err)
    assert info.reason == "FINGER_QUALITY_TOO_LOW", info
    assert len(info.metadata["positions"].split(",")) == 10, info.metadata
    for position in range(1, 11):
        strict.overrides.add(position=position, reason="worn ridges", supervisor_id="SPV-01")
    got = c.enroll.CaptureFingerprints(strict, timeout=CALL_TIMEOUT)
    assert len(got.recording.fingers) == 10
    assert all("worn ridges" in f.override_reason for f in got.recording.fingers)
    note = got.history[-1].note
    assert note.startswith("supervisor overrides: "), note

    # A dirty platen (the simulator's poor_quality fault) forces the right four low: their
    # recapture fails and keeps what was recorded, then succeeds once a supervisor accepts
    # them.
    scanner = c.device_of_class(devices_pb2.DEVICE_CLASS_FINGERPRINT_SCANNER)
    right_four = en.CaptureFingerprintsStepRequest(
        name=e.name,
        positions=[common_pb2.FINGER_POSITION_RIGHT_FOUR],
        max_attempts=1,
    )
    try:
        c.sim.InjectFault(
            devices_pb2.InjectFaultRequest(target=scanner.name, fault="poor_quality"),
            timeout=CALL_TIMEOUT,
        )
        err = expect_code(
            grpc.StatusCode.FAILED_PRECONDITION, c.enroll.CaptureFingerprints, right_four
        )
        info, _, _, _ = error_details(err)
        assert info.reason == "FINGER_QUALITY_TOO_LOW", info
        low = info.metadata["positions"].split(",")
        right = {"RIGHT_INDEX", "RIGHT_MIDDLE", "RIGHT_RING", "RIGHT_LITTLE"}
        assert low and set(low) <= right, low
        kept = c.enroll.GetEnrollment(
            en.GetEnrollmentRequest(name=e.name), timeout=CALL_TIMEOUT
        )
        assert list(kept.recording.fingers) == list(got.recording.fingers), "recording changed"
        # Every capture is a new impression: the supervisor accepts the four, and the
        # override goes with those that come out below the minimum.
        for name in sorted(right):
            right_four.overrides.add(
                position=common_pb2.FingerPosition.Value("FINGER_POSITION_" + name),
                reason="dry skin, platen cleaned",
                supervisor_id="SPV-02",
            )
        after = c.enroll.CaptureFingerprints(right_four, timeout=CALL_TIMEOUT)
    finally:
        c.sim.ClearFaults(
            devices_pb2.ClearFaultsRequest(target=scanner.name), timeout=CALL_TIMEOUT
        )
    accepted = []
    for f in after.recording.fingers:
        name = common_pb2.FingerPosition.Name(f.position)[len("FINGER_POSITION_"):]
        overridden = "dry skin" in f.override_reason and "SPV-02" in f.override_reason
        if name in right:
            assert overridden == (f.quality < 40), (name, f.quality, f.override_reason)
        else:
            assert not overridden, (name, f.override_reason)
        if overridden:
            accepted.append(name)
    note = after.history[-1].note
    assert all(name in note for name in accepted) and ("SPV-02" in note) == bool(accepted), note


def channel_options(t):
    """grpcio (since 1.57) sends the socket path as :authority on unix: targets, which
    tonic's HTTP/2 stack (h2) rejects as a PROTOCOL_ERROR (RST_STREAM code 1): a client of
    a tonic server on a Unix socket must set the authority itself, as grpc-go and tonic do
    ("localhost")."""
    if t.startswith("unix"):
        return [("grpc.default_authority", "localhost")]
    return []


def _reflection_services(channel, method):
    """Lists the services through ServerReflectionInfo at `method`."""
    call = channel.stream_stream(
        method,
        request_serializer=reflection_pb2.ServerReflectionRequest.SerializeToString,
        response_deserializer=reflection_pb2.ServerReflectionResponse.FromString,
    )
    req = reflection_pb2.ServerReflectionRequest(list_services="")
    responses = call(iter([req]), timeout=CALL_TIMEOUT)
    names = []
    for resp in responses:
        if resp.HasField("error_response"):
            raise AssertionError(
                "reflection error %d: %s"
                % (resp.error_response.error_code, resp.error_response.error_message)
            )
        names.extend(s.name for s in resp.list_services_response.service)
    return names


def test_sessions(c):
    """On the socket, without a token, calls run as the station's local user with every
    role; a wrong PIN (or an unknown operator) is UNAUTHENTICATED, BAD_CREDENTIALS; a
    forged token is UNAUTHENTICATED."""
    s = c.sessions.GetSession(sessions_pb2.GetSessionRequest(), timeout=CALL_TIMEOUT)
    assert s.name == "sessions/local", s
    assert s.operator_id.startswith("local:"), s
    assert set(s.roles) == {
        sessions_pb2.ROLE_OFFICER,
        sessions_pb2.ROLE_SUPERVISOR,
        sessions_pb2.ROLE_TECHNICIAN,
        sessions_pb2.ROLE_HEAD_OF_OFFICE,
    }, s
    err = expect_code(
        grpc.StatusCode.UNAUTHENTICATED,
        c.sessions.SignIn,
        sessions_pb2.SignInRequest(operator_id="no-such-officer", pin="123456"),
    )
    info, localized, _, _ = error_details(err)
    assert info.reason == "BAD_CREDENTIALS", info
    assert localized is not None and localized.locale == "id-ID", localized
    try:
        c.devices.ListDevices(
            devices_pb2.ListDevicesRequest(),
            timeout=CALL_TIMEOUT,
            metadata=[("authorization", "Bearer forged")],
        )
        raise AssertionError("a forged token was accepted")
    except grpc.RpcError as e:
        assert e.code() == grpc.StatusCode.UNAUTHENTICATED, e
        info, _, _, _ = error_details(e)
        assert info.reason == "UNAUTHENTICATED", info


def test_audit_log(c):
    """The calls of the tests before are in the audit log, with their outcome, and the
    chain is intact; a page after the last entry is empty."""
    e = c.enroll.CreateEnrollment(
        en.CreateEnrollmentRequest(applicant=applicant(9)), timeout=CALL_TIMEOUT
    )
    c.enroll.GetEnrollment(en.GetEnrollmentRequest(name=e.name), timeout=CALL_TIMEOUT)
    entries = []
    for _ in range(100):
        log = c.audit.ListAuditEntries(
            audit_pb2.ListAuditEntriesRequest(page_size=1000), timeout=CALL_TIMEOUT
        )
        entries = [a for a in log.entries if a.subject == e.name]
        if len(entries) >= 2:
            break
        time.sleep(0.02)
    assert log.chain_intact, log
    methods = [(a.method, a.outcome) for a in entries]
    assert ("rekam.v1.EnrollmentService/CreateEnrollment", "OK") in methods, methods
    assert ("rekam.v1.EnrollmentService/GetEnrollment", "OK") in methods, methods
    assert all(a.operator_id.startswith("local:") for a in entries), entries
    last = log.entries[-1].sequence
    after = c.audit.ListAuditEntries(
        audit_pb2.ListAuditEntriesRequest(after_sequence=log.total_entries + 1000),
        timeout=CALL_TIMEOUT,
    )
    assert len(after.entries) == 0 and last >= 2, after


def test_receipt_and_return_visit(c):
    """The send fails: a receipt with a signed QR code; a forged QR is refused; once the
    data centre answers print-ready, the QR reopens the enrollment ready to print."""
    e = c.enroll.CreateEnrollment(
        en.CreateEnrollmentRequest(applicant=applicant(11)), timeout=CALL_TIMEOUT
    )
    eid = e.name
    step = en.StepRequest(name=eid)
    c.enroll.CheckDocuments(
        en.CheckDocumentsRequest(name=eid, kk_number_on_document=DEMO_KK), timeout=CALL_TIMEOUT
    )
    for call in (c.enroll.VerifyIdentity, c.enroll.CaptureFace):
        call(step, timeout=CALL_TIMEOUT)
    c.enroll.CaptureFingerprints(en.CaptureFingerprintsStepRequest(name=eid), timeout=CALL_TIMEOUT)
    c.enroll.CaptureSignature(step, timeout=CALL_TIMEOUT)
    c.sim.InjectFault(
        devices_pb2.InjectFaultRequest(target="datacentre", fault="unavailable"),
        timeout=CALL_TIMEOUT,
    )
    try:
        c.enroll.FinishRecording(step, timeout=CALL_TIMEOUT)
        expect_code(grpc.StatusCode.UNAVAILABLE, c.enroll.Send, step)
        e = c.enroll.IssueReceipt(step, timeout=CALL_TIMEOUT)
        check_stage(e, "ENROLLMENT_STAGE_RECEIPT_ISSUED", "IssueReceipt")
        qr = e.receipt.qr
        assert qr.startswith("REKAM-BP1:" + e.receipt.number + ":"), qr
        pdf = c.enroll.GetReceiptDocument(
            en.GetReceiptDocumentRequest(name=eid), timeout=CALL_TIMEOUT
        )
        assert pdf.content_type == "application/pdf" and pdf.data[:5] == b"%PDF-", pdf.content_type
        assert pdf.qr == qr and pdf.number == e.receipt.number
        png = c.enroll.GetReceiptDocument(
            en.GetReceiptDocumentRequest(name=eid, format=en.RECEIPT_FORMAT_PNG),
            timeout=CALL_TIMEOUT,
        )
        assert png.data[:4] == b"\x89PNG", png.content_type
        # Another number under the same signature: forged.
        forged = qr.replace(e.receipt.number, e.receipt.number[:-1] + ("A" if e.receipt.number[-1] != "A" else "B"))
        err = expect_code(
            grpc.StatusCode.PERMISSION_DENIED, c.enroll.OpenReceipt, en.OpenReceiptRequest(qr=forged)
        )
        assert error_details(err)[0].reason == "RECEIPT_FORGED", error_details(err)[0]
        err = expect_code(
            grpc.StatusCode.INVALID_ARGUMENT, c.enroll.OpenReceipt, en.OpenReceiptRequest(qr="hello")
        )
        assert error_details(err)[0].reason == "RECEIPT_MALFORMED"
        r = c.enroll.OpenReceipt(en.OpenReceiptRequest(qr=qr), timeout=CALL_TIMEOUT)
        assert r.enrollment.name == eid and not r.ready_to_print, r
    finally:
        c.sim.ClearFaults(devices_pb2.ClearFaultsRequest(target="datacentre"), timeout=CALL_TIMEOUT)
    # The outbox delivers in the background; the data centre answers print-ready.
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        r = c.enroll.OpenReceipt(en.OpenReceiptRequest(qr=qr), timeout=CALL_TIMEOUT)
        if r.ready_to_print:
            break
        time.sleep(0.2)
    assert r.ready_to_print, r.enrollment.delivery
    check_stage(r.enrollment, "ENROLLMENT_STAGE_SENT", "OpenReceipt")
    e = c.enroll.Print(step, timeout=CALL_TIMEOUT)
    check_stage(e, "ENROLLMENT_STAGE_PRINTED", "Print on the return visit")


def test_complaint_escalation(c):
    """A complaint's way: filed at the secretariat, forwarded to a division, escalated to
    the Head of Office, resolved there; every move time-stamped with the operator."""
    x = c.complaints.FileComplaint(
        cp.FileComplaintRequest(
            channel=cp.COMPLAINT_CHANNEL_TELEPHONE,
            complainant="Budi",
            contact="0812-0000-0000",
            text="Kartu belum jadi setelah tiga hari.",
        ),
        timeout=CALL_TIMEOUT,
    )
    assert x.name.startswith("complaints/") and x.level == cp.COMPLAINT_LEVEL_SECRETARIAT, x
    err = expect_code(
        grpc.StatusCode.FAILED_PRECONDITION,
        c.complaints.EscalateComplaint,
        cp.EscalateComplaintRequest(name=x.name, note="too early"),
    )
    assert error_details(err)[0].reason == "COMPLAINT_ROUTE_NOT_ALLOWED"
    x = c.complaints.ForwardComplaint(
        cp.ForwardComplaintRequest(name=x.name, to_level=cp.COMPLAINT_LEVEL_REGISTRATION, expected_version=x.version),
        timeout=CALL_TIMEOUT,
    )
    assert x.level == cp.COMPLAINT_LEVEL_REGISTRATION, x
    x = c.complaints.EscalateComplaint(
        cp.EscalateComplaintRequest(name=x.name, note="needs the head"), timeout=CALL_TIMEOUT
    )
    x = c.complaints.ResolveComplaint(
        cp.ResolveComplaintRequest(name=x.name, resolution="card printed", expected_version=x.version),
        timeout=CALL_TIMEOUT,
    )
    assert x.status == cp.COMPLAINT_STATUS_RESOLVED and x.level == cp.COMPLAINT_LEVEL_HEAD_OF_OFFICE, x
    actions = [h.action for h in x.history]
    assert actions == [
        cp.COMPLAINT_ACTION_FILED,
        cp.COMPLAINT_ACTION_FORWARDED,
        cp.COMPLAINT_ACTION_ESCALATED,
        cp.COMPLAINT_ACTION_RESOLVED,
    ], actions
    assert all(h.operator.startswith("local:") and h.time.seconds > 0 for h in x.history), x.history
    err = expect_code(
        grpc.StatusCode.FAILED_PRECONDITION,
        c.complaints.ResolveComplaint,
        cp.ResolveComplaintRequest(name=x.name, resolution="again"),
    )
    assert error_details(err)[0].reason == "COMPLAINT_CLOSED"
    listed = c.complaints.ListComplaints(
        cp.ListComplaintsRequest(status=cp.COMPLAINT_STATUS_RESOLVED), timeout=CALL_TIMEOUT
    )
    assert x.name in [y.name for y in listed.complaints], listed


def test_daily_report(c):
    """Today's report counts what the tests before did."""
    r = c.reports.GetDailyReport(reports_pb2.GetDailyReportRequest(), timeout=CALL_TIMEOUT)
    assert r.opened >= 3, r
    steps = {s.step: s for s in r.steps}
    assert steps[en.STEP_HAND_OVER].succeeded >= 1, r.steps
    assert steps[en.STEP_SEND].failed + steps[en.STEP_SEND].timed_out >= 1 or r.receipts_issued >= 1, r
    phases = {p.phase: p for p in r.phases}
    assert phases["recording"].completed >= 1 and phases["recording"].standard.seconds == 180, phases
    assert phases["send"].standard.seconds == 3600


def test_reflection_lists_services(c):
    # grpc.reflection.v1 has the same messages as v1alpha (only the package differs), so
    # the v1alpha classes of grpcio-reflection serve both.
    names = None
    tried = []
    for method in (
        "/grpc.reflection.v1.ServerReflection/ServerReflectionInfo",
        "/grpc.reflection.v1alpha.ServerReflection/ServerReflectionInfo",
    ):
        try:
            names = _reflection_services(c.channel, method)
            break
        except grpc.RpcError as e:
            if e.code() != grpc.StatusCode.UNIMPLEMENTED:
                raise
            tried.append(method)
    assert names is not None, "no reflection service: %s" % tried
    for s in (
        "rekam.v1.EnrollmentService",
        "rekam.v1.DeviceService",
        "rekam.v1.SessionService",
        "grpc.health.v1.Health",
    ):
        assert s in names, "%s not listed by reflection: %s" % (s, names)
    # The generated v1alpha stub, as a generic tool would use it, when the server has it.
    if not tried:
        stub = reflection_pb2_grpc.ServerReflectionStub(c.channel)
        try:
            resp = next(
                iter(
                    stub.ServerReflectionInfo(
                        iter(
                            [
                                reflection_pb2.ServerReflectionRequest(
                                    file_containing_symbol="rekam.v1.EnrollmentService"
                                )
                            ]
                        ),
                        timeout=CALL_TIMEOUT,
                    )
                )
            )
            assert resp.file_descriptor_response.file_descriptor_proto, (
                "no descriptor for rekam.v1.EnrollmentService"
            )
        except grpc.RpcError as e:
            if e.code() != grpc.StatusCode.UNIMPLEMENTED:
                raise


def test_health(c):
    stub = health_pb2_grpc.HealthStub(c.channel)
    r = stub.Check(health_pb2.HealthCheckRequest(service=""), timeout=CALL_TIMEOUT)
    assert r.status == health_pb2.HealthCheckResponse.SERVING, "health: %s" % (
        health_pb2.HealthCheckResponse.ServingStatus.Name(r.status)
    )


def test_metrics_are_valid_openmetrics(c):
    """rekamd's metrics endpoint (REKAM_METRICS, http://host:port, set by tests/run.sh),
    parsed by the Prometheus project's own Python parser: after the enrollments above,
    the step counters, the devices and the standard's phases are there."""
    import urllib.request

    from prometheus_client.openmetrics.parser import text_string_to_metric_families

    url = os.environ.get("REKAM_METRICS")
    assert url, "REKAM_METRICS is not set: start rekamd with --metrics and say where"
    with urllib.request.urlopen(url.rstrip("/") + "/metrics", timeout=CALL_TIMEOUT) as r:
        assert r.headers["Content-Type"].startswith("application/openmetrics-text")
        text = r.read().decode("utf-8")
    families = {f.name: f for f in text_string_to_metric_families(text)}
    outcomes = families["rekam_step_outcomes"]
    assert outcomes.type == "counter", outcomes.type
    done = {
        (s.labels["step"], s.labels["outcome"]): s.value
        for s in outcomes.samples
        if s.name == "rekam_step_outcomes_total"
    }
    assert done.get(("hand_over", "succeeded"), 0) >= 1, done
    up = {s.labels["device"]: s.value for s in families["rekam_device_up"].samples}
    assert len(up) == 5, up
    standard = {
        s.labels["phase"]: s.value for s in families["rekam_phase_standard_seconds"].samples
    }
    assert standard["recording"] == 180 and standard["send"] == 3600, standard


TESTS = [
    test_devices_five_classes,
    test_devices_report_capabilities,
    test_iris_service_without_an_iris_camera,
    test_full_enrollment,
    test_verify_card,
    test_step_out_of_order,
    test_invalid_nik_and_unknown_id,
    test_ribbon_out_then_retry,
    test_scenario_status,
    test_disconnect_during_print_then_retry_uses_one_card,
    test_fingerprint_quality_gate_and_supervisor_override,
    test_reflection_lists_services,
    test_sessions,
    test_audit_log,
    test_receipt_and_return_visit,
    test_complaint_escalation,
    test_daily_report,
    test_health,
    test_device_watch_resumes_after_a_sequence,
    test_card_inserted_and_removed_are_device_events,
    test_metrics_are_valid_openmetrics,
]


def main():
    t = target()
    print("rekamd at %s" % t, flush=True)
    channel = grpc.insecure_channel(t, options=channel_options(t))
    try:
        grpc.channel_ready_future(channel).result(timeout=10)
    except grpc.FutureTimeoutError:
        print("cannot reach rekamd at %s: is it running?" % t)
        print("0 passed, %d failed" % len(TESTS))
        return 1
    c = Client(channel)
    passed = failed = 0
    for test in TESTS:
        start = time.monotonic()
        try:
            test(c)
        except Exception as e:  # noqa: BLE001 - every failure is reported the same way
            failed += 1
            if isinstance(e, grpc.RpcError):
                why = "%s: %s" % (e.code(), e.details())
            else:
                why = "%s: %s" % (type(e).__name__, e)
            print("FAIL %s (%.2f s): %s" % (test.__name__, time.monotonic() - start, why))
            if os.environ.get("REKAM_PY_VERBOSE"):
                traceback.print_exc()
        else:
            passed += 1
            print("ok   %s (%.2f s)" % (test.__name__, time.monotonic() - start))
        sys.stdout.flush()
    channel.close()
    print("%d passed, %d failed" % (passed, failed))
    return 0 if failed == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
