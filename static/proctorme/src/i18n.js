/* global MESSAGES */
/* exported localeDirection, localeFor, translate */
// ---------------------------------------------------------------------------------------------
// Languages: what the candidate reads. A page picks one with `locale` (Eye config or AutoProctor
// setup options); otherwise the widget follows the page's <html lang>, then the browser's
// language, then English. Every locale has every key (a test holds them to English's).
// ---------------------------------------------------------------------------------------------
var STRINGS = {
  en: {
    "badge.idle": "Not started",
    "badge.connecting": "Connecting…",
    "badge.monitoring": "Proctoring on",
    "badge.offline": "Offline — reconnecting…",
    "badge.ended": "Proctoring ended",
    "badge.error": "Proctoring stopped",
    "status.settingUp": "Setting up…",
    "status.ready": "Ready",
    "status.checking": "Checking…",
    "status.systemCheck": "System check…",
    "status.waitingConsent": "Waiting for consent",
    "ui.region": "Exam proctoring status",
    "ui.camera": "Your camera",
    "consent.title": "This exam is proctored",
    "consent.accept": "I agree — start proctoring",
    "consent.decline": "Decline",
    "consent.intro": "{institution} uses Proctorme to supervise {exam}. While the exam runs we capture:",
    "consent.namedExam": "“{title}”",
    "consent.thisExam": "this exam",
    "consent.yourInstitution": "Your institution",
    "consent.camera": "Images from your camera, to check that you are the person taking the exam and that you are alone.",
    "consent.microphone": "Sound from your microphone, to notice voices or other sounds during the exam.",
    "consent.browser": "Browser activity: leaving this tab or window, leaving full screen, extra screens, copy and paste, and losing your internet connection.",
    "consent.why": "Why: so that {institution} can check the exam was taken fairly. Automated checks raise flags; a person at {institution} reviews them before any decision.",
    "consent.retentionDays": "Recordings are kept for {days} days, then deleted.",
    "consent.retentionPolicy": "Recordings are kept only as long as the retention policy of {institution} allows, then deleted.",
    "consent.nothingBefore": "Nothing is captured before you agree, and capture stops when the exam ends.",
    "badge.paused": "Paused by your proctor",
    "message.title": "Message from your proctor",
    "message.ok": "OK, I have read it",
    "paused.note": "Your proctor has paused the exam. Please wait: your time is not running.",
    "ended.terminated": "Your proctor ended this exam: {reason}",
    "warning.absent": "We can't see you. Please sit in front of your camera.",
    "warning.covered": "Your camera seems to be covered. Please uncover it.",
    "warning.dark": "It is too dark to see you. Please turn on a light or face a window.",
    "check.ok": "Camera: we can see you clearly.",
    "check.absent": "We can't see your face. Sit facing the camera with your whole face in view.",
    "check.covered": "Your camera seems to be covered or blocked. Uncover it before you start.",
    "check.dark": "Your camera image is too dark. Turn on a light or face a window before you start.",
    "check.several": "We can see more than one face. You need to be alone in view for this exam.",
  },
  fr: {
    "badge.idle": "Pas commencé",
    "badge.connecting": "Connexion…",
    "badge.monitoring": "Surveillance active",
    "badge.offline": "Hors ligne — reconnexion…",
    "badge.ended": "Surveillance terminée",
    "badge.error": "Surveillance arrêtée",
    "status.settingUp": "Préparation…",
    "status.ready": "Prêt",
    "status.checking": "Vérification…",
    "status.systemCheck": "Vérification du système…",
    "status.waitingConsent": "En attente de votre accord",
    "ui.region": "État de la surveillance de l’examen",
    "ui.camera": "Votre caméra",
    "consent.title": "Cet examen est surveillé",
    "consent.accept": "J’accepte — lancer la surveillance",
    "consent.decline": "Refuser",
    "consent.intro": "{institution} utilise Proctorme pour surveiller {exam}. Pendant l’examen, nous enregistrons :",
    "consent.namedExam": "« {title} »",
    "consent.thisExam": "cet examen",
    "consent.yourInstitution": "Votre établissement",
    "consent.camera": "Des images de votre caméra, pour vérifier que c’est bien vous qui passez l’examen et que vous êtes seul·e.",
    "consent.microphone": "Le son de votre micro, pour repérer des voix ou d’autres bruits pendant l’examen.",
    "consent.browser": "L’activité du navigateur : quitter cet onglet ou cette fenêtre, quitter le plein écran, les écrans supplémentaires, le copier-coller et les pertes de connexion internet.",
    "consent.why": "Pourquoi : pour que {institution} puisse vérifier que l’examen s’est déroulé équitablement. Des contrôles automatiques signalent des incidents ; une personne de {institution} les examine avant toute décision.",
    "consent.retentionDays": "Les enregistrements sont conservés {days} jours, puis supprimés.",
    "consent.retentionPolicy": "Les enregistrements ne sont conservés que le temps permis par la politique de conservation de {institution}, puis supprimés.",
    "consent.nothingBefore": "Rien n’est enregistré avant votre accord, et l’enregistrement s’arrête à la fin de l’examen.",
    "badge.paused": "En pause (surveillant)",
    "message.title": "Message de votre surveillant",
    "message.ok": "OK, j’ai lu",
    "paused.note": "Votre surveillant a mis l’examen en pause. Veuillez patienter : votre temps ne s’écoule pas.",
    "ended.terminated": "Votre surveillant a mis fin à cet examen : {reason}",
    "warning.absent": "Nous ne vous voyons pas. Placez-vous devant votre caméra.",
    "warning.covered": "Votre caméra semble masquée. Veuillez la découvrir.",
    "warning.dark": "Il fait trop sombre pour vous voir. Allumez une lumière ou tournez-vous vers une fenêtre.",
    "check.ok": "Caméra : nous vous voyons bien.",
    "check.absent": "Nous ne voyons pas votre visage. Placez-vous face à la caméra, le visage entier visible.",
    "check.covered": "Votre caméra semble masquée ou bloquée. Découvrez-la avant de commencer.",
    "check.dark": "L’image de votre caméra est trop sombre. Allumez une lumière ou tournez-vous vers une fenêtre avant de commencer.",
    "check.several": "Nous voyons plus d’un visage. Vous devez être seul·e dans le champ pour cet examen.",
    "error.INVALID_CONFIG": "La configuration de la surveillance est incomplète ou incorrecte.",
    "error.INVALID_API_KEY": "La clé de surveillance de cet examen n’est pas valide. Merci de prévenir votre établissement.",
    "error.DOMAIN_NOT_REGISTERED": "La surveillance n’est pas activée pour ce site. Merci de prévenir votre établissement.",
    "error.ORIGIN_REQUIRED": "La surveillance ne fonctionne que depuis une page web.",
    "error.SESSION_ENDED": "Cette tentative d’examen est déjà terminée et ne peut pas être relancée.",
    "error.ATTEMPT_IN_USE": "Cette tentative d’examen est en cours dans un autre navigateur. Continuez-la là-bas, ou demandez de l’aide à votre établissement.",
    "error.CAMERA_DENIED": "L’accès à la caméra est bloqué. Autorisez la caméra pour ce site dans les réglages du navigateur, puis rechargez la page.",
    "error.MICROPHONE_DENIED": "L’accès au micro est bloqué. Autorisez le micro pour ce site dans les réglages du navigateur, puis rechargez la page.",
    "error.CAMERA_NOT_FOUND": "Aucune caméra utilisable n’a été trouvée. Branchez une caméra (et fermez les applications qui l’utilisent), puis rechargez la page.",
    "error.MICROPHONE_NOT_FOUND": "Aucun micro utilisable n’a été trouvé. Branchez un micro (et fermez les applications qui l’utilisent), puis rechargez la page.",
    "error.BROWSER_NOT_SUPPORTED": "Ce navigateur ne permet pas de passer un examen surveillé. Utilisez une version récente de Chrome, Edge, Firefox ou Safari, en https.",
    "error.NETWORK_ERROR": "Le serveur de surveillance est injoignable. Vérifiez votre connexion internet et réessayez.",
    "error.INVALID_ATTEMPT_SIGNATURE": "Ce lien d’examen n’est pas valide (sa signature ne correspond pas). Merci de prévenir votre établissement.",
    "error.CONSENT_DECLINED": "Vous avez refusé la surveillance : l’examen ne peut pas commencer. Rechargez la page si vous changez d’avis.",
    "error.INVALID_REPORT_CREDENTIAL": "Ce lien de rapport n’est pas valide ou a expiré.",
    "error.REPORT_NOT_AVAILABLE": "Ce rapport n’est pas disponible ici.",
  },
  ar: {
    "badge.idle": "لم تبدأ",
    "badge.connecting": "جارٍ الاتصال…",
    "badge.monitoring": "المراقبة قيد التشغيل",
    "badge.offline": "غير متصل — جارٍ إعادة الاتصال…",
    "badge.ended": "انتهت المراقبة",
    "badge.error": "توقفت المراقبة",
    "status.settingUp": "جارٍ الإعداد…",
    "status.ready": "جاهز",
    "status.checking": "جارٍ التحقق…",
    "status.systemCheck": "جارٍ فحص النظام…",
    "status.waitingConsent": "في انتظار موافقتك",
    "ui.region": "حالة مراقبة الامتحان",
    "ui.camera": "الكاميرا الخاصة بك",
    "consent.title": "هذا الامتحان مراقَب",
    "consent.accept": "أوافق — ابدأ المراقبة",
    "consent.decline": "رفض",
    "consent.intro": "تستخدم {institution} منصة Proctorme لمراقبة {exam}. أثناء الامتحان نسجّل ما يلي:",
    "consent.namedExam": "«{title}»",
    "consent.thisExam": "هذا الامتحان",
    "consent.yourInstitution": "مؤسستك التعليمية",
    "consent.camera": "صور من الكاميرا، للتحقق من أنك الشخص الذي يؤدي الامتحان وأنك وحدك.",
    "consent.microphone": "الصوت من الميكروفون، لملاحظة الأصوات أو الضوضاء الأخرى أثناء الامتحان.",
    "consent.browser": "نشاط المتصفح: مغادرة هذا التبويب أو النافذة، والخروج من وضع ملء الشاشة، والشاشات الإضافية، والنسخ واللصق، وانقطاع الاتصال بالإنترنت.",
    "consent.why": "السبب: لكي تتمكن {institution} من التحقق من أن الامتحان أُجري بنزاهة. تُصدر الفحوص الآلية تنبيهات، ويراجعها شخص من {institution} قبل اتخاذ أي قرار.",
    "consent.retentionDays": "تُحفظ التسجيلات لمدة {days} يومًا ثم تُحذف.",
    "consent.retentionPolicy": "تُحفظ التسجيلات فقط للمدة التي تسمح بها سياسة الحفظ لدى {institution}، ثم تُحذف.",
    "consent.nothingBefore": "لا يُسجَّل أي شيء قبل موافقتك، ويتوقف التسجيل عند انتهاء الامتحان.",
    "badge.paused": "أوقفه المراقب مؤقتًا",
    "message.title": "رسالة من المراقب",
    "message.ok": "حسنًا، قرأتها",
    "paused.note": "أوقف المراقب الامتحان مؤقتًا. يُرجى الانتظار: وقتك لا يُحتسب.",
    "ended.terminated": "أنهى المراقب هذا الامتحان: {reason}",
    "warning.absent": "لا نستطيع رؤيتك. يُرجى الجلوس أمام الكاميرا.",
    "warning.covered": "يبدو أن الكاميرا مغطاة. يُرجى كشفها.",
    "warning.dark": "الإضاءة ضعيفة جدًا لرؤيتك. يُرجى تشغيل ضوء أو مواجهة نافذة.",
    "check.ok": "الكاميرا: نراك بوضوح.",
    "check.absent": "لا نستطيع رؤية وجهك. اجلس مواجهًا للكاميرا بحيث يظهر وجهك كاملًا.",
    "check.covered": "يبدو أن الكاميرا مغطاة أو محجوبة. اكشفها قبل أن تبدأ.",
    "check.dark": "صورة الكاميرا مظلمة جدًا. شغّل ضوءًا أو واجه نافذة قبل أن تبدأ.",
    "check.several": "نرى أكثر من وجه. يجب أن تكون وحدك أمام الكاميرا في هذا الامتحان.",
    "error.INVALID_CONFIG": "إعدادات المراقبة ناقصة أو غير صحيحة.",
    "error.INVALID_API_KEY": "مفتاح المراقبة لهذا الامتحان غير صالح. يُرجى إبلاغ مؤسستك التعليمية.",
    "error.DOMAIN_NOT_REGISTERED": "المراقبة غير مفعّلة لهذا الموقع. يُرجى إبلاغ مؤسستك التعليمية.",
    "error.ORIGIN_REQUIRED": "لا تعمل المراقبة إلا من صفحة ويب.",
    "error.SESSION_ENDED": "انتهت محاولة الامتحان هذه بالفعل ولا يمكن إعادة بدئها.",
    "error.ATTEMPT_IN_USE": "محاولة الامتحان هذه جارية في متصفح آخر. تابعها هناك، أو اطلب المساعدة من مؤسستك التعليمية.",
    "error.CAMERA_DENIED": "الوصول إلى الكاميرا محظور. اسمح بالكاميرا لهذا الموقع في إعدادات المتصفح، ثم أعد تحميل الصفحة.",
    "error.MICROPHONE_DENIED": "الوصول إلى الميكروفون محظور. اسمح بالميكروفون لهذا الموقع في إعدادات المتصفح، ثم أعد تحميل الصفحة.",
    "error.CAMERA_NOT_FOUND": "لم يُعثر على كاميرا صالحة للاستخدام. وصّل كاميرا (وأغلق التطبيقات التي تستخدمها)، ثم أعد تحميل الصفحة.",
    "error.MICROPHONE_NOT_FOUND": "لم يُعثر على ميكروفون صالح للاستخدام. وصّل ميكروفونًا (وأغلق التطبيقات التي تستخدمه)، ثم أعد تحميل الصفحة.",
    "error.BROWSER_NOT_SUPPORTED": "لا يمكن أداء امتحان مراقَب في هذا المتصفح. استخدم إصدارًا حديثًا من Chrome أو Edge أو Firefox أو Safari عبر https.",
    "error.NETWORK_ERROR": "تعذّر الوصول إلى خادم المراقبة. تحقق من اتصالك بالإنترنت وحاول مرة أخرى.",
    "error.INVALID_ATTEMPT_SIGNATURE": "رابط الامتحان هذا غير صالح (توقيع المحاولة غير مطابق). يُرجى إبلاغ مؤسستك التعليمية.",
    "error.CONSENT_DECLINED": "لقد رفضت المراقبة، لذا لا يمكن بدء الامتحان. أعد تحميل الصفحة إذا غيّرت رأيك.",
    "error.INVALID_REPORT_CREDENTIAL": "رابط التقرير هذا غير صالح أو انتهت صلاحيته.",
    "error.REPORT_NOT_AVAILABLE": "هذا التقرير غير متاح هنا.",
  },
};
var RTL_LOCALES = ["ar"];
// English error texts are MESSAGES (contract.js), so that they exist once.
Object.keys(MESSAGES).forEach(function (code) { STRINGS.en["error." + code] = MESSAGES[code]; });

/** The shipped locale for a requested tag ("fr-CA" → "fr"), else the page's, else the browser's. */
function localeFor(requested) {
  var candidates = [requested, document.documentElement && document.documentElement.lang].concat(navigator.languages || [navigator.language]);
  for (var i = 0; i < candidates.length; i++) {
    var tag = typeof candidates[i] === "string" ? candidates[i].trim().toLowerCase() : "";
    if (!tag) continue;
    if (STRINGS[tag]) return tag;
    var primary = tag.split(/[-_]/)[0];
    if (STRINGS[primary]) return primary;
  }
  return "en";
}

function localeDirection(locale) {
  return RTL_LOCALES.indexOf(locale) === -1 ? "ltr" : "rtl";
}

/** The text for key in locale, with {name} replaced from params; English when a key is missing. */
function translate(locale, key, params) {
  var table = STRINGS[locale] || STRINGS.en;
  var text = table[key] !== undefined ? table[key] : STRINGS.en[key];
  if (text === undefined) return key;
  return text.replace(/\{(\w+)\}/g, function (whole, name) {
    return params && params[name] !== undefined ? String(params[name]) : whole;
  });
}
