"""diary's settings, with the bench URLconf and the bench key provider."""

from diary.settings import *

ROOT_URLCONF = "diarybench.urls"
JWT_KEY_PROVIDER = "diarybench.keys.FileKeyProvider"
