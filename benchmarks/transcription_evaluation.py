"""How well an offline speech-to-text engine would transcribe carers' voice notes.

The evidence behind "no automatic transcription" (docs/privacy.md, *Voice notes and
photos*): PocketSphinx 5, the one engine whose model ships inside a PyPI package, on
sentences like the answers WithUs hears, spoken by espeak-ng with a British and an
American voice, converted by sox to 16 kHz mono. Prints the word error rate per sentence
and overall, and the decoding time. Synthetic speech is clear and steady: phone
recordings in accents and in Welsh would do worse, never better.

Needs what WithUs does not: `pip install pocketsphinx` (into any virtualenv) and
`apt-get install espeak-ng sox`. Run: `python benchmarks/transcription_evaluation.py`.
"""

from __future__ import annotations

import subprocess
import tempfile
import time
import wave
from pathlib import Path

SENTENCES = [
    "the carers were kind but always rushed",
    "nobody told us the visit times changed so my dad waited up till midnight",
    "i need more breaks because i look after my mum every day",
    "the night staff were lovely but the paperwork about respite was confusing",
    "we waited six weeks for a social worker to call us back",
    "my son has autism and the school does not understand him",
]
VOICES = ("en-gb", "en-us")


def word_error_rate(reference: str, hypothesis: str) -> float:
    """Edits (substitutions, insertions, deletions) per reference word."""
    ref, hyp = reference.split(), hypothesis.split()
    row = list(range(len(hyp) + 1))
    for i, word in enumerate(ref, start=1):
        previous, row[0] = row[0], i
        for j, heard in enumerate(hyp, start=1):
            previous, row[j] = row[j], min(row[j] + 1, row[j - 1] + 1,
                                           previous + (word != heard))
    return row[-1] / len(ref)


def speak(text: str, voice: str, folder: Path) -> bytes:
    """16 kHz, 16-bit mono PCM of espeak-ng saying `text`."""
    spoken, converted = folder / "spoken.wav", folder / "16k.wav"
    subprocess.run(["espeak-ng", "-v", voice, "-s", "150", "-w", str(spoken), text],
                   check=True)
    subprocess.run(["sox", str(spoken), "-r", "16000", "-c", "1", "-b", "16", str(converted)],
                   check=True)
    with wave.open(str(converted)) as reader:
        return reader.readframes(reader.getnframes())


def main() -> None:
    from pocketsphinx import Decoder

    with tempfile.TemporaryDirectory() as temporary:
        folder = Path(temporary)
        for voice in VOICES:
            errors, seconds, audio = 0.0, 0.0, 0.0
            for sentence in SENTENCES:
                pcm = speak(sentence, voice, folder)
                audio += len(pcm) / 2 / 16000
                started = time.perf_counter()
                decoder = Decoder(samprate=16000)
                decoder.start_utt()
                decoder.process_raw(pcm, full_utt=True)
                decoder.end_utt()
                heard = decoder.hyp().hypstr if decoder.hyp() else ""
                seconds += time.perf_counter() - started
                rate = word_error_rate(sentence, heard)
                errors += rate
                print(f"{voice}  WER {rate:4.0%}  heard: {heard!r}")
            print(f"{voice}  mean WER {errors / len(SENTENCES):.0%}, decoded {audio:.1f} s "
                  f"of speech in {seconds:.1f} s\n")


if __name__ == "__main__":
    main()
