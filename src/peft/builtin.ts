// The built-in PEFT methods, each registering itself when its file loads.
import './lora.js';
import './qlora.js';
import './ia3.js';
import './prompt-tuning.js';
import './bottleneck.js';
import './selective.js';
