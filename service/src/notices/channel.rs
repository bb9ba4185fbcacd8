//! The channels' vendors: an SMTP server for email (lettre), an HTTP webhook for SMS and one for
//! WhatsApp. Each attempt's result is an [`Outcome`]: accepted, worth trying again, or not.

use std::time::Duration;

use lettre::message::Mailbox;
use lettre::message::header::ContentType;
use lettre::{AsyncSmtpTransport, AsyncTransport, Tokio1Executor};

use super::config::{EmailVendor, NoticeSettings, Template, WebhookVendor};
use super::policy::{Outcome, TokenBucket};
use crate::domain::notices::Channel;

/// A notice as a vendor is given it.
#[derive(Debug, Clone)]
pub struct Message {
    /// Sent to the vendor, which must deliver a key once.
    pub key: String,
    pub to: String,
    pub subject: String,
    pub text: String,
    pub worker_id: String,
    pub run_id: String,
    pub language: String,
}

/// The words of a notice, filled in.
pub struct Words<'a> {
    pub name: &'a str,
    pub period: &'a str,
    pub amount: &'a str,
    pub link: &'a str,
    pub expires: &'a str,
}

/// The template for `language`: the config's, else the built-in one, else English.
pub fn render(settings: &NoticeSettings, language: &str, words: &Words<'_>) -> (String, String) {
    let builtin = |language: &str| -> Option<Template> {
        let (subject, text) = match language {
            "en" => (
                "Your payslip for {period}",
                "Hello {name}, your pay for {period} is ready. Net payable: Rs. {amount}. \
                 Download your payslip (link valid until {expires}): {link}",
            ),
            "hi" => (
                "{period} की आपकी वेतन पर्ची",
                "नमस्ते {name}, {period} का आपका वेतन तैयार है। देय राशि: रु. {amount}। \
                 अपनी वेतन पर्ची डाउनलोड करें (लिंक {expires} तक मान्य): {link}",
            ),
            // The other languages payslips are printed in (see the payslips crate's lang/).
            "mr" => (
                "{period} चे तुमचे वेतन पत्रक",
                "नमस्कार {name}, {period} चे तुमचे वेतन तयार आहे. देय रक्कम: रु. {amount}. \
                 तुमचे वेतन पत्रक डाउनलोड करा (दुवा {expires} पर्यंत वैध): {link}",
            ),
            "ta" => (
                "{period} உங்கள் சம்பளச் சீட்டு",
                "வணக்கம் {name}, {period} உங்கள் சம்பளம் தயார். செலுத்த வேண்டிய தொகை: ரூ. {amount}. \
                 உங்கள் சம்பளச் சீட்டைப் பதிவிறக்கவும் (இணைப்பு {expires} வரை செல்லும்): {link}",
            ),
            "te" => (
                "{period} మీ వేతన పత్రం",
                "నమస్తే {name}, {period} మీ వేతనం సిద్ధంగా ఉంది. చెల్లించవలసిన మొత్తం: రూ. {amount}. \
                 మీ వేతన పత్రాన్ని డౌన్‌లోడ్ చేసుకోండి (లింక్ {expires} వరకు చెల్లుతుంది): {link}",
            ),
            "kn" => (
                "{period} ನಿಮ್ಮ ವೇತನ ಚೀಟಿ",
                "ನಮಸ್ಕಾರ {name}, {period} ನಿಮ್ಮ ವೇತನ ಸಿದ್ಧವಾಗಿದೆ. ಪಾವತಿಸಬೇಕಾದ ಮೊತ್ತ: ರೂ. {amount}. \
                 ನಿಮ್ಮ ವೇತನ ಚೀಟಿಯನ್ನು ಡೌನ್‌ಲೋಡ್ ಮಾಡಿ (ಲಿಂಕ್ {expires} ವರೆಗೆ ಮಾನ್ಯ): {link}",
            ),
            "ml" => (
                "{period} നിങ്ങളുടെ ശമ്പള സ്ലിപ്പ്",
                "നമസ്കാരം {name}, {period} നിങ്ങളുടെ ശമ്പളം തയ്യാറാണ്. നൽകേണ്ട തുക: രൂ. {amount}. \
                 നിങ്ങളുടെ ശമ്പള സ്ലിപ്പ് ഡൗൺലോഡ് ചെയ്യുക (ലിങ്ക് {expires} വരെ സാധുവാണ്): {link}",
            ),
            "bn" => (
                "{period}-এর আপনার বেতন স্লিপ",
                "নমস্কার {name}, {period}-এর আপনার বেতন প্রস্তুত। প্রদেয় অর্থ: টাকা {amount}। \
                 আপনার বেতন স্লিপ ডাউনলোড করুন (লিংক {expires} পর্যন্ত বৈধ): {link}",
            ),
            "gu" => (
                "{period} ની તમારી પગાર સ્લિપ",
                "નમસ્તે {name}, {period} નો તમારો પગાર તૈયાર છે. ચૂકવવાપાત્ર રકમ: રૂ. {amount}. \
                 તમારી પગાર સ્લિપ ડાઉનલોડ કરો (લિંક {expires} સુધી માન્ય): {link}",
            ),
            "pa" => (
                "{period} ਦੀ ਤੁਹਾਡੀ ਤਨਖਾਹ ਪਰਚੀ",
                "ਸਤ ਸ੍ਰੀ ਅਕਾਲ {name}, {period} ਦੀ ਤੁਹਾਡੀ ਤਨਖਾਹ ਤਿਆਰ ਹੈ। ਭੁਗਤਾਨਯੋਗ ਰਕਮ: ਰੁ. {amount}। \
                 ਆਪਣੀ ਤਨਖਾਹ ਪਰਚੀ ਡਾਊਨਲੋਡ ਕਰੋ (ਲਿੰਕ {expires} ਤੱਕ ਵੈਧ): {link}",
            ),
            "or" => (
                "{period} ର ଆପଣଙ୍କ ଦରମା ସ୍ଲିପ୍",
                "ନମସ୍କାର {name}, {period} ର ଆପଣଙ୍କ ଦରମା ପ୍ରସ୍ତୁତ। ଦେୟ ପରିମାଣ: ଟ. {amount}। \
                 ଆପଣଙ୍କ ଦରମା ସ୍ଲିପ୍ ଡାଉନଲୋଡ୍ କରନ୍ତୁ (ଲିଙ୍କ {expires} ପର୍ଯ୍ୟନ୍ତ ବୈଧ): {link}",
            ),
            _ => return None,
        };
        Some(Template {
            subject: subject.into(),
            text: text.into(),
        })
    };
    let template = settings
        .templates
        .get(language)
        .cloned()
        .or_else(|| builtin(language))
        .or_else(|| settings.templates.get("en").cloned())
        .or_else(|| builtin("en"))
        .unwrap_or(Template {
            subject: String::new(),
            text: String::new(),
        });
    let fill = |text: &str| {
        text.replace("{name}", words.name)
            .replace("{period}", words.period)
            .replace("{amount}", words.amount)
            .replace("{expires}", words.expires)
            .replace("{link}", words.link)
    };
    (fill(&template.subject), fill(&template.text))
}

/// A change to the worker's bank details or contact, in their language (English when there is
/// no built-in text for it): which fields changed and when, never the values, and what to do if
/// they did not ask for it. The service's own words: a fraud warning is not left to a template.
pub fn render_contact_change(language: &str, name: &str, fields: &[String], on: &str) -> (String, String) {
    if let Some(words) = ContactChange::of(language) {
        let what = fields.iter().map(|f| words.field(f)).collect::<Vec<_>>().join(", ");
        // The worker's name goes in last, so nothing in it is read as a placeholder.
        let fill = |text: &str| {
            text.replace("{what}", &what)
                .replace("{on}", on)
                .replace("{name}", name)
        };
        return (fill(words.subject), fill(words.text));
    }
    // English joins the last field with "and", so it is not in the table.
    let named: Vec<&str> = fields
        .iter()
        .map(|field| match field.as_str() {
            "bank_account" => "bank account",
            "ifsc" => "bank's IFSC",
            "phone" => "phone number",
            "email" => "email",
            other => other,
        })
        .collect();
    let what = match named.as_slice() {
        [] => String::new(),
        [one] => one.to_string(),
        [init @ .., last] => format!("{} and {last}", init.join(", ")),
    };
    (
        format!("Your {what} changed"),
        format!(
            "Hello {name}, your {what} on your payroll record changed on {on}. \
             If you did not ask for this, tell your HR team at once: the next payment goes to the new details."
        ),
    )
}

/// A contact change's words in the payslip languages other than English: the changed fields
/// are listed, comma-separated, where `{what}` stands (after a colon, but in Hindi, whose
/// sentence agrees with them).
struct ContactChange {
    fields: [&'static str; 4],
    subject: &'static str,
    text: &'static str,
}

impl ContactChange {
    fn of(language: &str) -> Option<ContactChange> {
        let (fields, subject, text) = match language {
            "hi" => (
                ["बैंक खाता", "बैंक का IFSC कोड", "फ़ोन नंबर", "ईमेल"],
                "आपका {what} बदला गया",
                "नमस्ते {name}, आपके पेरोल रिकॉर्ड में आपका {what} {on} को बदला गया। \
                 यदि आपने यह बदलाव नहीं माँगा था, तो तुरंत अपनी HR टीम को बताएं: अगला भुगतान नए विवरण पर जाएगा।",
            ),
            "mr" => (
                ["बँक खाते", "बँकेचा IFSC कोड", "फोन नंबर", "ईमेल"],
                "तुमचे तपशील बदलले: {what}",
                "नमस्कार {name}, तुमच्या पगार नोंदीतील हे तपशील {on} रोजी बदलले: {what}. हा बदल तुम्ही \
                 मागितला नसेल, तर लगेच तुमच्या HR टीमला कळवा: पुढील पगार नवीन तपशिलांवर जाईल.",
            ),
            "ta" => (
                ["வங்கிக் கணக்கு", "வங்கியின் IFSC குறியீடு", "தொலைபேசி எண்", "மின்னஞ்சல்"],
                "உங்கள் விவரங்கள் மாற்றப்பட்டன: {what}",
                "வணக்கம் {name}, உங்கள் சம்பளப் பதிவில் இந்த விவரங்கள் {on} அன்று மாற்றப்பட்டன: {what}. இதை \
                 நீங்கள் கேட்கவில்லை என்றால், உடனே உங்கள் HR குழுவிடம் தெரிவிக்கவும்: அடுத்த சம்பளம் புதிய விவரங்களுக்குச் செல்லும்.",
            ),
            "te" => (
                ["బ్యాంక్ ఖాతా", "బ్యాంక్ IFSC కోడ్", "ఫోన్ నంబర్", "ఈమెయిల్"],
                "మీ వివరాలు మారాయి: {what}",
                "నమస్తే {name}, మీ వేతన రికార్డులో ఈ వివరాలు {on} న మారాయి: {what}. ఈ మార్పు మీరు కోరకపోతే, \
                 వెంటనే మీ HR బృందానికి తెలియజేయండి: తదుపరి చెల్లింపు కొత్త వివరాలకు వెళ్తుంది.",
            ),
            "kn" => (
                ["ಬ್ಯಾಂಕ್ ಖಾತೆ", "ಬ್ಯಾಂಕ್ IFSC ಕೋಡ್", "ಫೋನ್ ಸಂಖ್ಯೆ", "ಇಮೇಲ್"],
                "ನಿಮ್ಮ ವಿವರಗಳು ಬದಲಾಗಿವೆ: {what}",
                "ನಮಸ್ಕಾರ {name}, ನಿಮ್ಮ ವೇತನ ದಾಖಲೆಯಲ್ಲಿ ಈ ವಿವರಗಳು {on} ರಂದು ಬದಲಾಗಿವೆ: {what}. ಈ ಬದಲಾವಣೆಯನ್ನು \
                 ನೀವು ಕೇಳಿರದಿದ್ದರೆ, ತಕ್ಷಣ ನಿಮ್ಮ HR ತಂಡಕ್ಕೆ ತಿಳಿಸಿ: ಮುಂದಿನ ಪಾವತಿ ಹೊಸ ವಿವರಗಳಿಗೆ ಹೋಗುತ್ತದೆ.",
            ),
            "ml" => (
                ["ബാങ്ക് അക്കൗണ്ട്", "ബാങ്കിന്റെ IFSC കോഡ്", "ഫോൺ നമ്പർ", "ഇമെയിൽ"],
                "നിങ്ങളുടെ വിവരങ്ങൾ മാറി: {what}",
                "നമസ്കാരം {name}, നിങ്ങളുടെ ശമ്പള രേഖയിലെ ഈ വിവരങ്ങൾ {on} ന് മാറി: {what}. നിങ്ങൾ ഇത് \
                 ആവശ്യപ്പെട്ടിട്ടില്ലെങ്കിൽ, ഉടൻ നിങ്ങളുടെ HR ടീമിനെ അറിയിക്കുക: അടുത്ത ശമ്പളം പുതിയ വിവരങ്ങളിലേക്ക് പോകും.",
            ),
            "bn" => (
                ["ব্যাংক অ্যাকাউন্ট", "ব্যাংকের IFSC কোড", "ফোন নম্বর", "ইমেল"],
                "আপনার তথ্য বদলেছে: {what}",
                "নমস্কার {name}, আপনার বেতন রেকর্ডে এই তথ্য {on} তারিখে বদলেছে: {what}। আপনি এটি না চেয়ে \
                 থাকলে এখনই আপনার HR দলকে জানান: পরের বেতন নতুন তথ্যে যাবে।",
            ),
            "gu" => (
                ["બેંક ખાતું", "બેંકનો IFSC કોડ", "ફોન નંબર", "ઈમેલ"],
                "તમારી વિગતો બદલાઈ: {what}",
                "નમસ્તે {name}, તમારા પગાર રેકોર્ડમાં આ વિગતો {on} ના રોજ બદલાઈ: {what}. જો તમે આ બદલાવ \
                 માંગ્યો ન હોય, તો તરત તમારી HR ટીમને જણાવો: આગામી ચુકવણી નવી વિગતો પર જશે.",
            ),
            "pa" => (
                ["ਬੈਂਕ ਖਾਤਾ", "ਬੈਂਕ ਦਾ IFSC ਕੋਡ", "ਫ਼ੋਨ ਨੰਬਰ", "ਈਮੇਲ"],
                "ਤੁਹਾਡੇ ਵੇਰਵੇ ਬਦਲੇ ਗਏ: {what}",
                "ਸਤ ਸ੍ਰੀ ਅਕਾਲ {name}, ਤੁਹਾਡੇ ਤਨਖਾਹ ਰਿਕਾਰਡ ਵਿੱਚ ਇਹ ਵੇਰਵੇ {on} ਨੂੰ ਬਦਲੇ ਗਏ: {what}। ਜੇ ਤੁਸੀਂ ਇਹ \
                 ਬਦਲਾਅ ਨਹੀਂ ਮੰਗਿਆ ਸੀ, ਤਾਂ ਤੁਰੰਤ ਆਪਣੀ HR ਟੀਮ ਨੂੰ ਦੱਸੋ: ਅਗਲਾ ਭੁਗਤਾਨ ਨਵੇਂ ਵੇਰਵਿਆਂ 'ਤੇ ਜਾਵੇਗਾ।",
            ),
            "or" => (
                ["ବ୍ୟାଙ୍କ ଖାତା", "ବ୍ୟାଙ୍କର IFSC କୋଡ୍", "ଫୋନ୍ ନମ୍ବର", "ଇମେଲ୍"],
                "ଆପଣଙ୍କ ବିବରଣୀ ବଦଳିଛି: {what}",
                "ନମସ୍କାର {name}, ଆପଣଙ୍କ ଦରମା ରେକର୍ଡରେ ଏହି ବିବରଣୀ {on} ରେ ବଦଳିଛି: {what}। ଆପଣ ଏହା ମାଗି ନ \
                 ଥିଲେ, ତୁରନ୍ତ ଆପଣଙ୍କ HR ଦଳକୁ ଜଣାନ୍ତୁ: ପରବର୍ତ୍ତୀ ଦେୟ ନୂଆ ବିବରଣୀକୁ ଯିବ।",
            ),
            _ => return None,
        };
        Some(ContactChange { fields, subject, text })
    }

    /// A changed field's name in the language (bank account, IFSC, phone, email).
    fn field<'f>(&self, field: &'f str) -> &'f str {
        match field {
            "bank_account" => self.fields[0],
            "ifsc" => self.fields[1],
            "phone" => self.fields[2],
            "email" => self.fields[3],
            other => other,
        }
    }
}

/// HR's digest of a nightly run's new block findings: the period, each check with its count,
/// and where to review them. Names no worker and no amount: it may travel by SMS.
pub fn render_findings_digest(period: &str, findings: &[String], review: &str) -> (String, String) {
    (
        format!("Payroll {period}: new findings hold the final run"),
        format!(
            "The nightly run of {period} found new block findings ({}). A final run is not approved while \
             one is open: review them at {review}",
            findings.join("; ")
        ),
    )
}

/// The vendors configured, each with its rate limit.
pub struct Channels {
    email: Option<(Email, TokenBucket)>,
    sms: Option<(Webhook, TokenBucket)>,
    whatsapp: Option<(Webhook, TokenBucket)>,
}

impl Channels {
    pub fn new(settings: &NoticeSettings) -> Result<Channels, String> {
        let webhook = |name: &str, v: &Option<WebhookVendor>| -> Result<Option<(Webhook, TokenBucket)>, String> {
            v.as_ref()
                .map(|v| {
                    let bucket = TokenBucket::new(v.rate_per_second, v.burst);
                    Webhook::new(v.clone())
                        .map(|w| (w, bucket))
                        .map_err(|e| format!("notices.{name}: {e}"))
                })
                .transpose()
        };
        Ok(Channels {
            email: settings
                .email
                .as_ref()
                .map(|v| {
                    let bucket = TokenBucket::new(v.rate_per_second, v.burst);
                    Email::new(v).map(|e| (e, bucket))
                })
                .transpose()?,
            sms: webhook("sms", &settings.sms)?,
            whatsapp: webhook("whatsapp", &settings.whatsapp)?,
        })
    }

    /// One attempt, after the vendor's rate limit allows it.
    pub async fn send(&self, channel: Channel, message: &Message) -> Outcome {
        let not_configured = || Outcome::Permanent {
            reason: format!("no {channel} vendor is configured"),
        };
        match channel {
            Channel::Email => match &self.email {
                Some((email, bucket)) => {
                    bucket.acquire().await;
                    email.send(message).await
                }
                None => not_configured(),
            },
            Channel::Sms | Channel::Whatsapp => {
                let vendor = if channel == Channel::Sms {
                    &self.sms
                } else {
                    &self.whatsapp
                };
                match vendor {
                    Some((webhook, bucket)) => {
                        bucket.acquire().await;
                        webhook.send(message).await
                    }
                    None => not_configured(),
                }
            }
        }
    }
}

struct Email {
    transport: AsyncSmtpTransport<Tokio1Executor>,
    from: Mailbox,
}

impl Email {
    fn new(vendor: &EmailVendor) -> Result<Email, String> {
        let transport = AsyncSmtpTransport::<Tokio1Executor>::from_url(vendor.smtp_url.reveal())
            .map_err(|e| format!("notices.email.smtp_url: {e}"))?
            .timeout(Some(vendor.timeout))
            .build();
        let from = vendor.from.parse().map_err(|e| format!("notices.email.from: {e}"))?;
        Ok(Email { transport, from })
    }

    async fn send(&self, message: &Message) -> Outcome {
        let to: Mailbox = match message.to.parse() {
            Ok(to) => to,
            Err(_) => {
                return Outcome::Permanent {
                    reason: "the worker's email is not an address the SMTP server can take".into(),
                };
            }
        };
        // The idempotency key is the Message-ID: a mail system that sees the same message twice
        // (a dispatcher that died between the server's 250 and marking it sent) can drop one.
        let email = lettre::Message::builder()
            .from(self.from.clone())
            .to(to)
            .subject(message.subject.clone())
            .message_id(Some(format!("<{}@payroll>", message.key)))
            .header(ContentType::TEXT_PLAIN)
            .body(message.text.clone());
        let email = match email {
            Ok(email) => email,
            Err(e) => {
                return Outcome::Permanent {
                    reason: format!("building the email: {e}"),
                };
            }
        };
        match self.transport.send(email).await {
            Ok(_) => Outcome::Accepted,
            Err(e) if e.is_permanent() => Outcome::Permanent {
                reason: format!(
                    "SMTP: {}",
                    e.status().map_or_else(|| "refused".to_string(), |c| c.to_string())
                ),
            },
            Err(e) => Outcome::Temporary {
                reason: match e.status() {
                    Some(code) => format!("SMTP {code}"),
                    None if e.is_timeout() => "SMTP: timed out".to_string(),
                    None => "SMTP: the server could not be reached".to_string(),
                },
                retry_after: None,
            },
        }
    }
}

struct Webhook {
    vendor: WebhookVendor,
    client: reqwest::Client,
}

impl Webhook {
    fn new(vendor: WebhookVendor) -> Result<Webhook, String> {
        let client = reqwest::Client::builder()
            .timeout(vendor.timeout)
            .build()
            .map_err(|e| e.to_string())?;
        Ok(Webhook { vendor, client })
    }

    fn body(&self, message: &Message) -> String {
        let json = |text: &str| serde_json::Value::String(text.to_string()).to_string();
        self.vendor
            .body
            .replace("{to}", &json(&message.to))
            .replace("{text}", &json(&message.text))
            .replace("{key}", &json(&message.key))
            .replace("{worker_id}", &json(&message.worker_id))
            .replace("{run_id}", &json(&message.run_id))
            .replace("{language}", &json(&message.language))
    }

    async fn send(&self, message: &Message) -> Outcome {
        let mut request = self
            .client
            .post(&self.vendor.url)
            .header("Content-Type", &self.vendor.content_type)
            .header("Idempotency-Key", &message.key)
            .body(self.body(message));
        if let (Some(header), Some(value)) = (&self.vendor.auth_header, &self.vendor.auth_value) {
            request = request.header(header.as_str(), value.reveal());
        }
        match request.send().await {
            Ok(response) => classify(response.status().as_u16(), response.headers().get("retry-after")),
            Err(e) => Outcome::Temporary {
                // Without the URL: a vendor's may carry a key in its query.
                reason: if e.is_timeout() {
                    "timed out".to_string()
                } else if e.is_connect() {
                    "the vendor could not be reached".to_string()
                } else {
                    "the request failed before an answer".to_string()
                },
                retry_after: None,
            },
        }
    }
}

/// A vendor's HTTP status as an outcome.
fn classify(status: u16, retry_after: Option<&reqwest::header::HeaderValue>) -> Outcome {
    match status {
        200..=299 => Outcome::Accepted,
        429 => Outcome::Temporary {
            reason: "HTTP 429: throttled".into(),
            retry_after: retry_after
                .and_then(|v| v.to_str().ok())
                .and_then(|v| v.trim().parse::<u64>().ok())
                .map(Duration::from_secs),
        },
        408 | 500..=599 => Outcome::Temporary {
            reason: format!("HTTP {status}"),
            retry_after: retry_after
                .and_then(|v| v.to_str().ok())
                .and_then(|v| v.trim().parse::<u64>().ok())
                .map(Duration::from_secs),
        },
        _ => Outcome::Permanent {
            reason: format!("HTTP {status}: refused"),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_contact_change_names_the_fields_in_the_workers_language_never_the_values() {
        let fields = ["bank_account".to_string(), "ifsc".to_string(), "phone".to_string()];
        let (subject, text) = render_contact_change("ur", "Asha", &fields, "2026-11-02");
        assert_eq!(subject, "Your bank account, bank's IFSC and phone number changed");
        assert!(text.starts_with("Hello Asha, your bank account, bank's IFSC and phone number on your payroll record changed on 2026-11-02."), "{text}");
        let (subject, text) = render_contact_change("hi", "Asha", &fields[..1], "2026-11-02");
        assert_eq!(subject, "आपका बैंक खाता बदला गया");
        assert!(text.contains("2026-11-02") && text.contains("HR"), "{text}");
        let (subject, text) = render_contact_change("ta", "Asha", &fields, "2026-11-02");
        assert_eq!(
            subject,
            "உங்கள் விவரங்கள் மாற்றப்பட்டன: வங்கிக் கணக்கு, வங்கியின் IFSC குறியீடு, தொலைபேசி எண்"
        );
        assert!(
            text.starts_with("வணக்கம் Asha,") && text.contains("2026-11-02") && text.contains("HR"),
            "{text}"
        );
        // A name is never read as a placeholder.
        let (_, text) = render_contact_change("bn", "{on}", &fields[..1], "2026-11-02");
        assert!(text.starts_with("নমস্কার {on},"), "{text}");
    }

    #[test]
    fn statuses_are_classified() {
        let after = reqwest::header::HeaderValue::from_static("7");
        assert_eq!(classify(202, None), Outcome::Accepted);
        assert_eq!(
            classify(429, Some(&after)),
            Outcome::Temporary {
                reason: "HTTP 429: throttled".into(),
                retry_after: Some(Duration::from_secs(7))
            }
        );
        assert!(matches!(
            classify(503, None),
            Outcome::Temporary { retry_after: None, .. }
        ));
        assert!(matches!(classify(400, None), Outcome::Permanent { .. }));
    }

    #[test]
    fn templates_fall_back_to_english() {
        let settings = NoticeSettings::default();
        let words = Words {
            name: "Asha",
            period: "2026-10",
            amount: "18314.05",
            link: "http://x/l",
            expires: "2026-11-07",
        };
        let (_, hindi) = render(&settings, "hi", &words);
        assert!(hindi.starts_with("नमस्ते Asha") && hindi.contains("18314.05") && hindi.contains("http://x/l"));
        let (subject, tamil) = render(&settings, "ta", &words);
        assert_eq!(subject, "2026-10 உங்கள் சம்பளச் சீட்டு");
        assert!(
            tamil.starts_with("வணக்கம் Asha") && tamil.ends_with("http://x/l"),
            "{tamil}"
        );
        // Urdu has no template: English.
        let (subject, urdu) = render(&settings, "ur", &words);
        assert_eq!(subject, "Your payslip for 2026-10");
        assert!(urdu.starts_with("Hello Asha"));
    }
}
