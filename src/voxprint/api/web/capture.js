// Microphone capture: getUserMedia -> AudioWorklet (or ScriptProcessor) -> 16 kHz mono PCM16.
// startCapture(onChunk) calls onChunk(ArrayBuffer) about every 100 ms; returns { stop }.

const TARGET_RATE = 16000;
const CHUNK_SAMPLES = 1600; // 100 ms at 16 kHz

const WORKLET = `
class Tap extends AudioWorkletProcessor {
  process(inputs) {
    const channel = inputs[0] && inputs[0][0];
    if (channel) this.port.postMessage(channel.slice(0));
    return true;
  }
}
registerProcessor("voxprint-tap", Tap);
`;

// Box-filter downsampler with a fractional read position carried across blocks.
class Downsampler {
  constructor(inputRate) {
    this.ratio = inputRate / TARGET_RATE;
    this.pending = new Float32Array(0);
    this.position = 0;
  }
  push(block) {
    const data = new Float32Array(this.pending.length + block.length);
    data.set(this.pending);
    data.set(block, this.pending.length);
    const out = [];
    const width = Math.max(1, Math.round(this.ratio));
    let pos = this.position;
    while (pos + width <= data.length) {
      const start = Math.floor(pos);
      let sum = 0;
      for (let i = 0; i < width; i++) sum += data[start + i];
      out.push(sum / width);
      pos += this.ratio;
    }
    const keep = Math.floor(pos);
    this.pending = data.slice(keep);
    this.position = pos - keep;
    return Float32Array.from(out);
  }
}

function toPcm16(samples) {
  const pcm = new Int16Array(samples.length);
  for (let i = 0; i < samples.length; i++) {
    const s = Math.max(-1, Math.min(1, samples[i]));
    pcm[i] = s < 0 ? s * 0x8000 : s * 0x7fff;
  }
  return pcm.buffer;
}

export async function startCapture(onChunk) {
  if (!navigator.mediaDevices || !navigator.mediaDevices.getUserMedia) {
    throw new Error("this browser cannot use a microphone here (use https or localhost)");
  }
  const stream = await navigator.mediaDevices.getUserMedia({
    audio: { channelCount: 1, echoCancellation: false, noiseSuppression: false, autoGainControl: false },
  });
  const context = new AudioContext();
  await context.resume();
  const source = context.createMediaStreamSource(stream);
  const sink = context.createGain();
  sink.gain.value = 0;
  sink.connect(context.destination);
  const down = new Downsampler(context.sampleRate);
  let buffered = [];
  let count = 0;
  const take = (block) => {
    const samples = down.push(block);
    if (!samples.length) return;
    buffered.push(samples);
    count += samples.length;
    if (count >= CHUNK_SAMPLES) {
      const all = new Float32Array(count);
      let offset = 0;
      for (const part of buffered) { all.set(part, offset); offset += part.length; }
      buffered = [];
      count = 0;
      onChunk(toPcm16(all));
    }
  };
  let node;
  if (context.audioWorklet) {
    const url = URL.createObjectURL(new Blob([WORKLET], { type: "text/javascript" }));
    await context.audioWorklet.addModule(url);
    URL.revokeObjectURL(url);
    node = new AudioWorkletNode(context, "voxprint-tap");
    node.port.onmessage = (event) => take(event.data);
  } else {
    node = context.createScriptProcessor(4096, 1, 1);
    node.onaudioprocess = (event) => take(event.inputBuffer.getChannelData(0));
  }
  source.connect(node);
  node.connect(sink);
  return {
    stop() {
      try { source.disconnect(); node.disconnect(); } catch (_) { /* already gone */ }
      stream.getTracks().forEach((track) => track.stop());
      context.close();
    },
  };
}
