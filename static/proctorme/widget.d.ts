/**
 * Proctorme widget — TypeScript declarations for both SDK dialects.
 *
 *   <script src="https://proctorme.example/widget.js"></script>
 *
 * Eye by Proctorme:  const widget = await LoadProctormeWidget();  // LoadEyeWidget is the same function
 * AutoProctor:       const ap = new AutoProctor({ clientId, testAttemptId, hashedTestAttemptId });
 *
 * Reference: docs/widget.md. Served at https://<your Proctorme server>/widget.d.ts.
 */

// ================================================================================================
// Shared
// ================================================================================================

/** Stable error codes (branch on these, never on messages). */
export type ProctormeErrorCode =
  | "INVALID_CONFIG"
  | "INVALID_API_KEY"
  | "DOMAIN_NOT_REGISTERED"
  | "ORIGIN_REQUIRED"
  | "SESSION_ENDED"
  | "CAMERA_DENIED"
  | "MICROPHONE_DENIED"
  | "CAMERA_NOT_FOUND"
  | "MICROPHONE_NOT_FOUND"
  | "BROWSER_NOT_SUPPORTED"
  | "NETWORK_ERROR"
  | "INVALID_ATTEMPT_SIGNATURE"
  | "CONSENT_DECLINED"
  | "ATTEMPT_IN_USE"
  | "INVALID_REPORT_CREDENTIAL"
  | "REPORT_NOT_AVAILABLE";

/** What `init()` / `setup()` / `start()` reject with. */
export interface ProctormeError extends Error {
  name: "ProctormeError";
  code: ProctormeErrorCode;
  /** INVALID_CONFIG: every missing or malformed field, e.g. ["candidateEmail", "features.aiProctoring"]. */
  fields?: string[];
  /** INVALID_CONFIG from the server: the reason for each field. */
  fieldErrors?: Record<string, string>;
  /** CAMERA_DENIED: which devices are blocked. */
  devices?: Array<"camera" | "microphone">;
  /** AutoProctor dialect only: the numeric error code also sent in `apErrorEvent`. */
  errorCode?: AutoProctorErrorCode;
  /** HTTP status of the server's refusal, when there was one. */
  status?: number;
}

/**
 * `consent: "accepted"` skips the built-in consent notice. Only for integrators who show their
 * own notice — covering what is captured, why and for how long — and record the candidate's
 * agreement before starting proctoring (and for automated tests).
 */
export type ConsentOption = "accepted";

// ================================================================================================
// Eye by Proctorme dialect
// ================================================================================================

export interface EyeFeatures {
  /** Face, voice and photo analysis. Default true. */
  aiProctoring?: boolean;
  /** Compare the candidate with candidateImageUrl / the first photo. Default true. */
  facialRecognition?: boolean;
}

export interface EyeConfig {
  /** Publishable key (pk_…); works only from the institution's registered domains. */
  apiKey: string;
  assessmentId: string;
  assessmentTitle: string;
  candidateId: string;
  candidateEmail: string;
  candidateFirstName: string;
  candidateLastName: string;
  institutionName: string;
  /** Exam length in seconds. */
  examDuration: number;
  candidateImageUrl?: string;
  /** base64 HMAC-SHA256 of the escaped attempt id with your secret key, made on your server (docs/api.md). */
  attemptSignature?: string;
  /** Both on when left out. */
  features?: EyeFeatures;
  /** Element id the status badge (and camera preview) render into; a fixed corner when absent. */
  containerId?: string;
  /** Proctorme extension: show the candidate their camera in the badge. Default false. */
  showCamPreview?: boolean;
  /** Proctorme extension: see ConsentOption. */
  consent?: ConsentOption;
  /** Groups attempts into one assessment when assessmentId is not given (AutoProctor's Moodle plugin). */
  lookupKey?: string;
  /** Ask before the candidate leaves a monitored page. Default true. */
  alertBeforeUnload?: boolean;
  /** Accepted and ignored: there is no how-to video. */
  showHowToVideo?: boolean;
  /** Proctorme extension: the candidate's language (see WidgetLocale); else the page's lang. */
  locale?: string;
  /** Where the phone-pairing QR code goes (auxiliaryDevice); else the widget shows a dialog. */
  auxDeviceContainerId?: string;
  /** The older docs' name of auxDeviceContainerId. */
  auxDeviceTestContainerId?: string;
}

/** AutoProctor's reportOptions (defaults as AutoProctor documents them). */
export interface ReportOptions {
  showProctoringOverview?: boolean; // true
  proctoringOverviewDOMId?: string; // "ap-report__overview"
  showProctoringSummary?: boolean; // true
  proctoringSummaryDOMId?: string; // "ap-report__proctor"
  showSessionRecording?: boolean; // true
  sessionRecordingDOMId?: string; // "ap-report__session"
  groupReportsIntoTabs?: boolean; // false
  tabContainerDOMId?: string; // "ap-report-tab-container"
  insertTestReportTab?: boolean; // false
  testReportDOMId?: string; // "ap-report__test-results"
  showDownloadReportBtn?: boolean; // false
  userDetails?: { name?: string; email?: string };
}

export interface ApReport {
  sessionId: string;
  testAttemptId: string;
  status: string;
  candidate: { name: string; email: string; photo: { url: string; contentType: string } | null };
  startedAt: string;
  submittedAt: string | null;
  trustScore: number | null;
  riskBand: "low" | "review" | "high" | null;
  flags: { type: string; description: string; startedAt: string; endedAt: string | null; durationSeconds: number; evidence: { url: string; contentType: string } | null }[];
  recording: null;
  /** idCardVerification: the photo-ID step's result (null when the option was off). */
  idCard: {
    status: "passed" | "failed" | "incomplete";
    attempts: number;
    outcome: IdCardOutcome | null;
    distance: number | null;
    checks: { face: true; name?: "not checked"; expiryDate?: "not checked" };
    image: { url: string; contentType: string } | null;
  } | null;
  /** auxiliaryDevice: the paired phone (null when the option was off). */
  auxiliaryDevice: (AuxStatus & { frames: number; sideView: { capturedAt: string; url: string; contentType: string }[] }) | null;
}

/** match: the face on the card is the candidate's (dlib distance at most 0.6). */
export type IdCardOutcome = "match" | "mismatch" | "no_card" | "no_face_on_card" | "no_live_face";

export interface AuxStatus {
  state: "none" | "waiting" | "paired" | "streaming" | "disconnected";
  label: string | null;
  pairedAt: string | null;
  startedAt: string | null;
  lastSeenAt: string | null;
  disconnectedAt: string | null;
  disconnects: number;
}

/** The languages the widget ships; other tags fall back by primary subtag, then to English. */
export type WidgetLocale = "en" | "fr" | "ar";

export type SystemCheckName = "webcam" | "microphone" | "browser" | "internetSpeed";
export type SystemCheckStatus = "success" | "failed" | "default";

export interface SystemCheckItem {
  name: SystemCheckName;
  status: SystemCheckStatus;
  finished: boolean;
}

export interface SystemCheck {
  success: boolean;
  /** ISO timestamp. */
  timestamp: string;
  data: SystemCheckItem[];
  /** Proctorme extension: measured values. */
  details?: { browser?: string; internetSpeedMbps?: number | null };
}

/** Eye by Proctorme's FlagData, plus Proctorme's id, span and details. */
export interface FlagData {
  /** The page's assessmentId. */
  examId: string;
  candidateId: string;
  /** The event name, e.g. "TAB_NOT_FOCUS". */
  type: FlagType | string;
  description: string;
  /** ISO timestamp. */
  createdAt: string;
  flagId?: string;
  startedAt?: string;
  endedAt?: string | null;
  durationSeconds?: number;
  /** Short-lived signed URL of the evidence (the widget fetches it into mediaFile). */
  mediaUrl?: string | null;
  details?: Record<string, unknown>;
}

export interface FlagDataWithFile extends FlagData {
  /** A JPEG snapshot or an audio clip; absent when the flag has no evidence or it could not be fetched. */
  mediaFile?: File;
}

export type FlagType =
  | "TAB_NOT_FOCUS"
  | "EXIT_FULLSCREEN"
  | "MULTIPLE_SCREENS"
  | "COPY_PASTE"
  | "CONNECTION_LOST"
  | "FACE_ABSENCE"
  | "MULTIPLE_FACE"
  | "LOOKING_AWAY"
  | "FACE_MISMATCH"
  | "CAMERA_BLOCKED"
  | "SOUND_DETECTED"
  | "PERIODIC_SNAPSHOT"
  | "SUSPICIOUS_ACTIVITY";

export interface StartedPayload {
  sessionId: string;
  /** True when this page resumed an attempt that was already running (a reload). */
  resumed: boolean;
  startedAt: string;
  deadlineAt: string | null;
}

export interface EndPayload {
  /** "ended" (endProctoring), "time_up", "destroyed", "stopped" or "server". */
  reason: string;
  endedAt: string;
}

export interface ErrorPayload {
  code: ProctormeErrorCode;
  message: string;
  fields?: string[];
  devices?: Array<"camera" | "microphone">;
}

/** Payload of each event, by name. */
export interface EyeEventMap {
  SET_CONFIG: { config: Omit<EyeConfig, "apiKey"> };
  SYSTEM_CHECK_STARTED: { timestamp: string };
  SYSTEM_CHECK_COMPLETED: SystemCheck;
  STARTED: StartedPayload;
  END_PROCTORING: EndPayload;
  ERROR: ErrorPayload;
  TAB_FOCUS_CHANGE: { focused: boolean; cause: "visibility" | "blur" };
  FULLSCREEN_CHANGE: { fullscreen: boolean };
  TAB_NOT_FOCUS: FlagData;
  EXIT_FULLSCREEN: FlagData;
  MULTIPLE_SCREENS: FlagData;
  COPY_PASTE: FlagData;
  CONNECTION_LOST: FlagData;
  FACE_ABSENCE: FlagDataWithFile;
  MULTIPLE_FACE: FlagDataWithFile;
  LOOKING_AWAY: FlagDataWithFile;
  FACE_MISMATCH: FlagDataWithFile;
  CAMERA_BLOCKED: FlagDataWithFile;
  SOUND_DETECTED: FlagDataWithFile;
  PERIODIC_SNAPSHOT: FlagDataWithFile;
  SUSPICIOUS_ACTIVITY: FlagData;
}

export type EyeEventName = keyof EyeEventMap;

export interface EyeWidget {
  /**
   * Listen for an event; works before or after init(). Returns a function that removes the
   * listener. Proctorme extension: "*" receives every event as (payload, type).
   */
  on<K extends EyeEventName>(event: K, callback: (payload: EyeEventMap[K], type: K) => void): () => void;
  on(event: "*", callback: (payload: unknown, type: string) => void): () => void;
  on(event: string, callback: (payload: FlagDataWithFile, type: string) => void): () => void;
  off(event: string, callback: (...args: any[]) => void): void;
  /** Drops every listener added with on(). */
  resetSessionListeners(): void;
  /**
   * Validates the config, starts (or resumes) the session, asks for consent, runs the system
   * check and opens the live connection. Resolves after STARTED; rejects with a ProctormeError
   * (and emits ERROR) otherwise.
   */
  init(config: EyeConfig): Promise<StartedPayload>;
  /** Ends the session for good (a new init for the same attempt gets SESSION_ENDED). */
  endProctoring(): Promise<{ status: string; endedAt?: string }>;
}

// ================================================================================================
// AutoProctor dialect
// ================================================================================================

export interface AutoProctorCredentials {
  /** The institution's publishable key (pk_…). */
  clientId: string;
  /** At most 40 characters; one proctoring session per attempt. */
  testAttemptId: string;
  /** base64 (or hex) HMAC-SHA256 of testAttemptId keyed with the attempt-signing key (as_…), computed on your server. */
  hashedTestAttemptId?: string;
  /** showReport() only: a report credential (rpt_…) from POST /api/v1/sessions/{id}/report-credentials. */
  reportToken?: string;
  /** AutoProctor's own server and environment: accepted and ignored (the widget talks to its own server). */
  domain?: string;
  environment?: string;
}

export interface TrackingOptions {
  audio?: boolean; // default true
  numHumans?: boolean; // default true
  tabSwitch?: boolean; // default true
  captureSwitchedTab?: boolean; // default true
  photosAtRandom?: boolean; // default true
  numPhotosAtRandom?: number; // default 25
  recordSession?: boolean; // default false
  testTakerPhoto?: boolean; // default false
  /** Needs testContainerId. Default false. */
  forceFullScreen?: boolean;
  detectMultipleScreens?: boolean; // default true
  forceDesktop?: boolean; // default false
  impersonation?: boolean; // default false
  showCamPreview?: boolean; // default false
  disableCopyPaste?: boolean; // default false
  multiSessionAttempt?: boolean; // default false
  /** Pair a phone by QR code as a side view before the test. Default false. */
  auxiliaryDevice?: boolean;
  /** A photo ID before the test; true is { face: true }. name and expiryDate are not read here. */
  idCardVerification?: boolean | { face?: boolean; name?: boolean; expiryDate?: boolean } | null;
  /** Unknown keys are ignored. */
  [unknown: string]: unknown;
}

export interface AutoProctorSetupOptions {
  trackingOptions?: TrackingOptions;
  /** Alias of trackingOptions. */
  track?: TrackingOptions;
  userDetails?: { name?: string; email?: string };
  /** Minutes. Default 180. */
  testDuration?: number;
  /** The element holding the test (made full screen with forceFullScreen). */
  testContainerId?: string;
  assessmentId?: string;
  assessmentTitle?: string;
  /** Proctorme extension: the institution's name in the consent notice. */
  institutionName?: string;
  /** Proctorme extension: see ConsentOption. */
  consent?: ConsentOption;
  /** Proctorme extension: the candidate's language (see WidgetLocale); else the page's lang. */
  locale?: string;
}

/** AutoProctor's numbers 4001–4018 and Proctorme's own 4101–4111 (docs/widget.md). */
export type AutoProctorErrorCode =
  | 4001 | 4002 | 4003 | 4004 | 4005 | 4006 | 4007 | 4008 | 4009 | 4010 | 4015 | 4018
  | 4101 | 4102 | 4103 | 4104 | 4105 | 4106 | 4107 | 4108 | 4109 | 4110 | 4111;

export type AutoProctorSuccessCode = 2001 | 2002 | 2003;

/** 5001 FACE_ABSENCE, 5002 MULTIPLE_FACE, 5003 PERIODIC_SNAPSHOT, 5004 SOUND_DETECTED,
 *  5005 TAB_NOT_FOCUS, 5006 back on the tab, 5007 MULTIPLE_SCREENS, 5009 EXIT_FULLSCREEN. */
export type AutoProctorEvidenceCode = 5001 | 5002 | 5003 | 5004 | 5005 | 5006 | 5007 | 5009;

export interface ApErrorDetail {
  errorCode: AutoProctorErrorCode;
  code: ProctormeErrorCode;
  message: string;
  fields?: string[];
}

export interface ApEvidenceDetail extends Partial<FlagDataWithFile> {
  evidenceCode: AutoProctorEvidenceCode;
  type: string;
  createdAt: string;
}

export interface ApWindowEventMap {
  apSetupCompleted: CustomEvent<{ sessionId: string; resumed: boolean }>;
  apMonitoringStarted: CustomEvent<StartedPayload>;
  apMonitoringStopped: CustomEvent<{ reason: string; endedAt?: string }>;
  apInstanceDestroyed: CustomEvent<{ testAttemptId: string }>;
  /** action "show" while setting up, then one "hide" when setup ends (either way). */
  apProgressUpdate: CustomEvent<{ action: "show" | "hide"; percentage: number; step?: string }>;
  /** A setup step has taken more than 15 s. */
  apProgressDelayed: CustomEvent<{ percentage: number; step: string; delayedMs: number }>;
  /** Browser, camera and microphone checks passed (2001). */
  apBrowserDependencyCheckPassed: CustomEvent<{ successCode: 2001 }>;
  /** showReport() rendered the report. */
  apReportLoaded: CustomEvent<{ testAttemptId: string; sessionId: string }>;
  apSuccessEvent: CustomEvent<{ successCode: AutoProctorSuccessCode }>;
  apErrorEvent: CustomEvent<ApErrorDetail>;
  apEvidenceEvent: CustomEvent<ApEvidenceDetail>;
  /** auxiliaryDevice: the phone's side view started (resumed: after a drop). */
  apMonitoringOnAuxStarted: CustomEvent<{ auxDeviceLabel: string; startedAt: string; resumed: boolean }>;
  /** auxiliaryDevice: the phone sent nothing for PROCTORME_AUX_HEARTBEAT_TIMEOUT (15 s). */
  apAuxDisconnected: CustomEvent<{ auxDeviceLabel: string; lastSeenAt: string; disconnectedAt: string }>;
  /** The pairing QR code is shown (both API generations). */
  auxDeviceTestAttemptLabelGenerated: CustomEvent<{ auxDeviceLabel: string; pairingUrl: string }>;
  /** The phone claimed the pairing. */
  auxDeviceConfirmed: CustomEvent<{ auxDeviceLabel: string; pairedAt: string }>;
}

export declare class AutoProctor {
  constructor(credentials: AutoProctorCredentials);
  /** null until setup() settles, then "ready" or "error". */
  setupState: null | "ready" | "error";
  /** True while monitoring runs (between apMonitoringStarted and apMonitoringStopped). */
  isApTestStarted: boolean;
  /** True once a phone is paired (auxiliaryDevice). */
  isAuxiliaryDeviceConfirmed: boolean;
  /** The photo-ID step's last answer (idCardVerification), null before or without it. */
  idCardResult: null | { outcome: IdCardOutcome | "attempts_used"; passed: boolean; done: boolean; attempt?: number; attemptsLeft?: number; distance?: number | null };
  /** Renders the attempt's report into the page (needs a report credential, see docs/widget.md). */
  showReport(reportOptions?: ReportOptions): Promise<ApReport>;
  /** The same as showReport(). */
  showResults(reportOptions?: ReportOptions): Promise<ApReport>;
  /** Starts (or resumes) the session, consent, permissions and checks; then apSetupCompleted. */
  setup(options?: AutoProctorSetupOptions): Promise<{ sessionId: string; resumed: boolean }>;
  /** Starts monitoring (apMonitoringStarted). Again before stop() resumes; after stop() it throws. */
  start(): Promise<void>;
  /** Ends the attempt (apMonitoringStopped). */
  stop(): Promise<{ status: string; endedAt?: string } | void>;
  /** Ends the attempt if still running, removes the UI (apInstanceDestroyed). */
  destroy(): Promise<void>;
}

// ================================================================================================
// Globals
// ================================================================================================

export interface CaptureContext {
  stream: MediaStream;
  session: { sessionId: string; token: string; uploadUrl?: string; [key: string]: unknown };
  settings: { capture?: Record<string, number>; tracking?: TrackingOptions; features?: EyeFeatures };
  server: string;
  dialect: "eye" | "autoproctor";
  /** Sends a browser signal through the resumable outbox; returns its seq. */
  signal(event: string, payload: Record<string, unknown>): number | null;
}

export interface ProctormeGlobal {
  version: string;
  /** Origin of the Proctorme server (where widget.js came from, or data-proctorme-server). */
  server: string;
  errorMessages: Record<ProctormeErrorCode, string>;
  autoProctorErrorCodes: Record<string, number>;
  evidenceCodes: Record<string, AutoProctorEvidenceCode>;
  /** Internal, unstable: the capture/upload layer's hook; may return a stop function. */
  registerCaptureHook(hook: (context: CaptureContext) => void | (() => void)): () => void;
}

declare global {
  interface Window {
    LoadProctormeWidget(): Promise<EyeWidget>;
    LoadEyeWidget(): Promise<EyeWidget>;
    AutoProctor: typeof AutoProctor;
    Proctorme: ProctormeGlobal;
  }
  interface WindowEventMap extends ApWindowEventMap {}
  function LoadProctormeWidget(): Promise<EyeWidget>;
  function LoadEyeWidget(): Promise<EyeWidget>;
}
