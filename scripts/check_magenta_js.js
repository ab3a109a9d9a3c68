// Runs exported checkpoint folders in @magenta/music (Node build) for
// scripts/check_magenta_js.py: reads a job file (JSON), writes the results (JSON) to a file
// (stdout carries Magenta.js's own log lines).
//
//   node check_magenta_js.js job.json results.json
//
// Job: {"baseUrl": "http://127.0.0.1:PORT",
//       "rnn": [{"name", "dir", "primer": <quantized NoteSequence JSON>, "steps"}],
//       "vae": [{"name", "dir", "z": [[...], ...], "encodeInputs"?: [[[...]]],
//                "encodeSequences"?: true}]}
// Each folder is loaded from `${baseUrl}/${dir}` as a browser would (config.json, then
// weights_manifest.json and the shards). RNNs continue the primer greedily (no
// temperature); VAEs decode z greedily and encode the given inputs (and their own
// decoded NoteSequences).
'use strict';

const fs = require('fs');
const tf = require('@tensorflow/tfjs');
const mmRnn = require('@magenta/music/node/music_rnn');
const mmVae = require('@magenta/music/node/music_vae');

function argmaxRows(values, depth) {
  const labels = [];
  for (let i = 0; i < values.length; i += depth) {
    let best = 0;
    for (let j = 1; j < depth; j++) {
      if (values[i + j] > values[i + best]) best = j;
    }
    labels.push(best);
  }
  return labels;
}

async function runRnn(baseUrl, job) {
  const model = new mmRnn.MusicRNN(`${baseUrl}/${job.dir}`);
  await model.initialize();
  // The primer as Magenta.js encodes it (its data converter is private in TypeScript only).
  const primerTensor = model.dataConverter.toTensor(job.primer);
  const primerLabels = argmaxRows(await primerTensor.data(), primerTensor.shape[1]);
  primerTensor.dispose();
  const result = await model.continueSequenceAndReturnProbabilities(job.primer, job.steps);
  const sequence = await result.sequence;
  const labels = result.probs.map(p => argmaxRows(p, p.length)[0]);
  model.dispose();
  return {
    name: job.name, primerLabels, labels,
    probs: result.probs.map(p => Array.from(p)),
    notes: sequence.notes.map(n => [n.pitch, n.quantizedStartStep, n.quantizedEndStep]),
  };
}

async function runVae(baseUrl, job) {
  const model = new mmVae.MusicVAE(`${baseUrl}/${job.dir}`);
  await model.initialize();
  const z = tf.tensor2d(job.z);
  const tensors = await model.decodeTensors(z);
  const depth = tensors.shape[2];
  const values = await tensors.data();
  const sequences = await model.decode(z);
  z.dispose();
  tensors.dispose();
  const result = {
    name: job.name, shape: tensors.shape, outputs: Array.from(values),
    labels: argmaxRows(values, depth),
    notes: sequences.map(s => s.notes.map(
        n => [n.pitch, n.quantizedStartStep, n.quantizedEndStep, n.instrument || 0])),
  };
  if (job.encodeInputs) {
    // The encoder on our input tensors, and on its own decoded NoteSequences through its
    // data converter.
    const inputs = tf.tensor3d(job.encodeInputs);
    const mu = await model.encodeTensors(inputs);
    result.mu = Array.from(await mu.data());
    inputs.dispose();
    mu.dispose();
    if (job.encodeSequences) {
      const muSequences = await model.encode(sequences);
      result.muSequences = Array.from(await muSequences.data());
      muSequences.dispose();
    }
  }
  model.dispose();
  return result;
}

async function main() {
  const job = JSON.parse(fs.readFileSync(process.argv[2], 'utf8'));
  const results = {rnn: [], vae: []};
  for (const rnn of job.rnn || []) results.rnn.push(await runRnn(job.baseUrl, rnn));
  for (const vae of job.vae || []) results.vae.push(await runVae(job.baseUrl, vae));
  fs.writeFileSync(process.argv[3], JSON.stringify(results));
}

main().catch(error => {
  process.stderr.write(`magenta.js check failed: ${error.stack || error}\n`);
  process.exit(1);
});
