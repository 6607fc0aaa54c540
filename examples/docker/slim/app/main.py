import hashlib
import json

from greeting import greet

with open("/app/words.txt") as f:
    words = f.read().split()
print(greet(words[0]), json.dumps({"words": len(words), "sha": hashlib.sha1(" ".join(words).encode()).hexdigest()[:12]}))
