"""Language names a user may write, and the ISO 639-1 codes py3langid returns."""

LANGUAGES = {
    "english": "en", "french": "fr", "german": "de", "spanish": "es", "italian": "it",
    "portuguese": "pt", "dutch": "nl", "russian": "ru", "chinese": "zh", "mandarin": "zh",
    "japanese": "ja", "korean": "ko", "arabic": "ar", "hindi": "hi", "turkish": "tr",
    "polish": "pl", "swedish": "sv", "greek": "el", "hebrew": "he", "vietnamese": "vi",
    "indonesian": "id", "czech": "cs", "danish": "da", "finnish": "fi", "norwegian": "no",
    "romanian": "ro", "ukrainian": "uk", "hungarian": "hu", "thai": "th", "bengali": "bn",
    "tamil": "ta", "persian": "fa", "farsi": "fa", "swahili": "sw", "kannada": "kn",
    "marathi": "mr", "telugu": "te", "gujarati": "gu", "punjabi": "pa", "urdu": "ur",
    "nepali": "ne", "catalan": "ca", "bulgarian": "bg", "croatian": "hr", "serbian": "sr",
    "slovak": "sk", "latin": "la", "malay": "ms", "filipino": "tl", "tagalog": "tl",
}
# The candidates the identifier chooses among: fewer look-alikes than all 97 of its
# languages, so short replies are classified better.
CANDIDATES = sorted(set(LANGUAGES.values()))
