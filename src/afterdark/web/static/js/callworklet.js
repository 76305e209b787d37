// The live call's microphone tap: runs in the audio thread, gathers the first input channel
// into blocks of about 40 ms and posts each one (a Float32Array, transferred) to the page.
// `sampleRate` is the AudioContext's, a global of the worklet scope.

const BLOCK_SECONDS = 0.04;

class CallCapture extends AudioWorkletProcessor {
  constructor() {
    super();
    this.size = Math.max(128, Math.round(sampleRate * BLOCK_SECONDS));
    this.block = new Float32Array(this.size);
    this.filled = 0;
    this.running = true;
    this.port.onmessage = (e) => {
      if (e.data && e.data.type === "stop") this.running = false;
    };
  }

  process(inputs) {
    if (!this.running) return false; // the node may now be collected
    const channel = inputs[0] && inputs[0][0];
    if (!channel) return true; // no input connected yet (or it went quiet for good)
    let at = 0;
    while (at < channel.length) {
      const n = Math.min(channel.length - at, this.size - this.filled);
      this.block.set(channel.subarray(at, at + n), this.filled);
      this.filled += n;
      at += n;
      if (this.filled === this.size) {
        const full = this.block;
        this.port.postMessage(full, [full.buffer]);
        this.block = new Float32Array(this.size);
        this.filled = 0;
      }
    }
    return true;
  }
}

registerProcessor("afterdark-call-capture", CallCapture);
