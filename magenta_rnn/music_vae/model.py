"""The MusicVAE model in TF2 (REFERENCE.md "MusicVAE architecture"): posterior, KL with free bits
and beta
annealing, reconstruction loss, Adam with exponential decay, global-norm clipping.

    model = MusicVAE(hparams, input_depth=90, output_depth=90)
    trainer = Trainer(model)                        # owns Adam and global_step
    scalars = trainer.train_step(inputs, outputs, lengths)
    samples = model.sample(n=4, length=32, temperature=0.5)
"""
from __future__ import annotations

import math
from collections.abc import Sequence

import tensorflow as tf

from magenta_rnn.hparams import HParams
from magenta_rnn.music_vae import hierarchical
from magenta_rnn.music_vae import hierarchical_encoder
from magenta_rnn.music_vae import lstm

LN2 = math.log(2.0)
SUPPORTED_ENCODERS = ('bidirectional_lstm', 'hierarchical')
SUPPORTED_DECODERS = (('categorical_lstm', 'multilabel_rnn_nade', 'groove_lstm')
                      + hierarchical.DECODER_TYPES[1:])


def shifted_targets(targets: tf.Tensor) -> tf.Tensor:
    """A teacher-forced decoder's inputs [batch, time, depth]: the targets shifted right by
    one step, zeros first."""
    return tf.pad(targets[:, :-1], [(0, 0), (1, 0), (0, 0)])


class MusicVAE(tf.Module):
    """(Hierarchical) bidirectional LSTM encoder -> N(mu, sigma) -> z -> decoder.

    Controls (chords, GrooVAE hits: [batch, time, control_depth]) are a general input:
    the encoder reads them beside the sequence, and the decoder beside z at every step.
    """

    def __init__(self, hparams: HParams, input_depth: int, output_depth: int,
                 control_depth: int = 0, encoder: str = 'bidirectional_lstm',
                 decoder: str = 'categorical_lstm', name: str = 'music_vae',
                 decoder_spec: dict | None = None, one_hot_input_width: int = 0,
                 encoder_spec: dict | None = None):
        super().__init__(name=name)
        if encoder not in SUPPORTED_ENCODERS:
            raise ValueError(f'encoder type {encoder!r} is not supported yet '
                             f'(supported: {", ".join(SUPPORTED_ENCODERS)})')
        if decoder not in SUPPORTED_DECODERS:
            raise ValueError(f'decoder type {decoder!r} is not supported yet '
                             f'(supported: {", ".join(SUPPORTED_DECODERS)})')
        self.hparams = hparams
        self.input_depth = input_depth
        self.output_depth = output_depth
        self.control_depth = control_depth
        # Lengths per example: () for one length, (segments,) for per-segment lengths.
        self.length_shape: tuple = ()
        z_size = hparams.z_size
        with self.name_scope:
            if encoder == 'hierarchical':
                spec = encoder_spec or {}
                core = (spec.get('core') or {}).get('type', 'bidirectional_lstm')
                if core != 'bidirectional_lstm':
                    raise ValueError(f'hierarchical encoder core {core!r} is not supported '
                                     f'(supported: bidirectional_lstm)')
                self.encoder = hierarchical_encoder.HierarchicalLstmEncoder(
                    input_depth + control_depth, hparams.enc_rnn_size,
                    spec.get('level_lengths', [16, 16]), hparams.max_seq_len,
                    hparams.dropout_keep_prob, one_hot_input_width)
            else:
                self.encoder = lstm.BidirectionalLstmEncoder(
                    input_depth + control_depth, hparams.enc_rnn_size,
                    hparams.dropout_keep_prob, one_hot_input_width)
            self.mu = lstm.Dense(self.encoder.output_depth, z_size,
                                 lstm.normal_initializer(0.001), name='mu')
            self.sigma = lstm.Dense(self.encoder.output_depth, z_size,
                                    lstm.normal_initializer(0.001), tf.nn.softplus,
                                    name='sigma')
            if decoder in hierarchical.DECODER_TYPES[1:]:
                # Multi-output and hierarchical decoders (hierarchical.py).
                self.decoder = hierarchical.build_decoder(
                    decoder_spec or {'type': decoder}, hparams, output_depth, control_depth)
            else:
                self.decoder = make_decoder(decoder, hparams, output_depth, control_depth)

    def encode(self, sequence: tf.Tensor, lengths: tf.Tensor, controls: tf.Tensor | None = None,
               training: bool = False) -> tuple[tf.Tensor, tf.Tensor]:
        """(mu, sigma) of the posterior, each [batch, z_size]."""
        sequence = tf.cast(sequence, tf.float32)
        if controls is not None and self.control_depth:
            sequence = tf.concat([sequence, tf.cast(controls, tf.float32)], axis=-1)
        encoding = self.encoder(sequence, lengths, training=training)
        return self.mu(encoding), self.sigma(encoding)

    def compute_loss(self, inputs: tf.Tensor, outputs: tf.Tensor, lengths: tf.Tensor,
                     step: tf.Tensor, controls: tf.Tensor | None = None,
                     training: bool = False) -> dict[str, tf.Tensor]:
        """Per-example losses and scalars for one padded batch [batch, time, depth]."""
        hp = self.hparams
        num_steps = min(outputs.shape[1], hp.max_seq_len)
        inputs = tf.cast(inputs[:, :num_steps], tf.float32)
        x_target = tf.cast(outputs[:, :num_steps], tf.float32)
        if controls is not None:
            controls = controls[:, :num_steps]
        x_input = shifted_targets(x_target)
        x_length = tf.minimum(tf.cast(lengths, tf.int32), num_steps)

        mu, sigma = self.encode(inputs, x_length, controls, training)
        z = mu + sigma * tf.random.normal(tf.shape(mu))
        # KL(N(mu, sigma) || N(0, I)) in nats.
        kl_div = tf.reduce_sum(0.5 * (tf.square(mu) + tf.square(sigma) - 1.0)
                               - tf.math.log(sigma), axis=-1)

        probability = lstm.sampling_probability(hp, step, training)
        if hasattr(self.decoder, 'reconstruction_loss'):
            # Decoders with their own output distribution (NADE, GrooVAE).
            r_loss, metrics = self.decoder.reconstruction_loss(
                x_input, x_target, x_length, z, controls, probability, training)
        else:
            logits = self.decoder.logits(x_input, z, x_length, controls, probability, training)
            mask = step_mask(x_length, num_steps)
            # One softmax, or one per output split (trio decoders).
            cross_entropy, correct = hierarchical.step_losses(self.decoder, x_target, logits)
            r_loss = tf.reduce_sum(cross_entropy * mask, axis=1)
            metrics = {'correct_steps': tf.reduce_sum(correct * mask),
                       'valid_steps': tf.reduce_sum(mask)}

        free_nats = hp.free_bits * LN2
        kl_cost = tf.maximum(kl_div - free_nats, 0.0)
        beta = (1.0 - tf.pow(hp.beta_rate, tf.cast(step, tf.float32))) * hp.max_beta
        loss = tf.reduce_mean(r_loss) + beta * tf.reduce_mean(kl_cost)
        return {
            'loss': loss,
            'losses/r_loss': r_loss,
            'losses/kl_loss': kl_cost,
            'losses/kl_bits': kl_div / LN2,
            'losses/kl_beta': beta,
            'sampling_probability': tf.convert_to_tensor(probability, tf.float32),
            **metrics,
        }

    def sample(self, n: int, length: int, temperature: float = 1.0, z: tf.Tensor | None = None,
               end_token: int | None = None, controls: tf.Tensor | None = None) -> tf.Tensor:
        """[n, length, depth] one-hot samples; z ~ N(0, I) unless given; controls
        [n, length, control_depth] for a model with controls."""
        if z is None:
            z = tf.random.normal([n, self.hparams.z_size])
        return self.decode(z, length, temperature, end_token, controls)

    def decode(self, z: tf.Tensor, length: int, temperature: float = 1.0,
               end_token: int | None = None, controls: tf.Tensor | None = None) -> tf.Tensor:
        if self.control_depth and controls is None:
            raise ValueError(f'this model is conditioned on controls ({self.control_depth} '
                             f'per step): give them')
        kwargs = {'controls': tf.cast(controls, tf.float32)} if self.control_depth else {}
        return self.decoder.sample(int(z.shape[0]), length, z, temperature,
                                   end_token=end_token, **kwargs)


def step_mask(lengths: tf.Tensor, num_steps: int) -> tf.Tensor:
    """[batch, num_steps] 1.0 on valid steps, from lengths [batch] or per-segment
    lengths [batch, segments] (equal segments, each valid up to its length)."""
    if lengths.shape.rank == 2:
        segments = lengths.shape[1]
        mask = tf.sequence_mask(lengths, num_steps // segments, dtype=tf.float32)
        return tf.reshape(mask, [-1, num_steps])
    return tf.sequence_mask(lengths, num_steps, dtype=tf.float32)


def make_decoder(decoder: str, hparams: HParams, output_depth: int, control_depth: int = 0
                 ) -> tf.Module:
    """The flat decoder named by a config's decoder type."""
    args = (output_depth, hparams.z_size, hparams.dec_rnn_size)
    if decoder == 'multilabel_rnn_nade':
        from magenta_rnn.music_vae import nade
        return nade.MultiLabelRnnNadeDecoder(*args, hparams.nade_num_hidden,
                                             hparams.dropout_keep_prob, control_depth)
    if decoder == 'groove_lstm':
        from magenta_rnn.music_vae import flat_decoders
        return flat_decoders.GrooveLstmDecoder(*args, hparams.dropout_keep_prob, control_depth)
    return lstm.CategoricalLstmDecoder(*args, hparams.dropout_keep_prob, control_depth)


class Adam(tf.Module):
    """TF1 AdamOptimizer (epsilon 1e-8) on the ResourceApplyAdam kernel; lr given per step."""

    def __init__(self, variables: Sequence[tf.Variable], beta1: float = 0.9,
                 beta2: float = 0.999, epsilon: float = 1e-8, name: str = 'adam'):
        super().__init__(name=name)
        self.beta1, self.beta2, self.epsilon = beta1, beta2, epsilon
        with self.name_scope:
            self.m = [tf.Variable(tf.zeros_like(v), trainable=False, name='m') for v in variables]
            self.v = [tf.Variable(tf.zeros_like(v), trainable=False, name='v') for v in variables]
            self.beta1_power = tf.Variable(beta1, trainable=False, name='beta1_power')
            self.beta2_power = tf.Variable(beta2, trainable=False, name='beta2_power')

    def apply(self, grads: Sequence[tf.Tensor], variables: Sequence[tf.Variable],
              learning_rate: tf.Tensor) -> None:
        """One update; under a tf.distribute strategy (cross-replica context), of every
        replica's copy, each with its replica's (already summed) gradients."""
        strategy = tf.distribute.get_strategy()

        def update(var, grad, m, v):
            return tf.raw_ops.ResourceApplyAdam(
                var=var.handle, m=m.handle, v=v.handle, beta1_power=self.beta1_power,
                beta2_power=self.beta2_power, lr=learning_rate, beta1=self.beta1,
                beta2=self.beta2, epsilon=self.epsilon, grad=grad)

        for grad, var, m, v in zip(grads, variables, self.m, self.v):
            strategy.extended.update(var, update, args=(grad, m, v), group=False)
        self.beta1_power.assign(self.beta1_power * self.beta1)
        self.beta2_power.assign(self.beta2_power * self.beta2)


def learning_rate(hparams: HParams, step: tf.Tensor) -> tf.Tensor:
    """(lr - min_lr) * decay_rate^step + min_lr."""
    return ((hparams.learning_rate - hparams.min_learning_rate)
            * tf.pow(hparams.decay_rate, tf.cast(step, tf.float32)) + hparams.min_learning_rate)


def clip_gradients(hparams: HParams, grads: Sequence[tf.Tensor]
                   ) -> tuple[list[tf.Tensor], tf.Tensor]:
    """Global-norm clip to grad_clip; all zeros when the norm is >= grad_norm_clip_to_zero."""
    global_norm = tf.linalg.global_norm(grads)
    if hparams.clip_mode == 'value':
        g = hparams.grad_clip
        return [tf.clip_by_value(grad, -g, g) for grad in grads], global_norm
    if hparams.clip_mode != 'global_norm':
        raise ValueError(f'Unknown clip_mode: {hparams.clip_mode}')
    clipped, _ = tf.clip_by_global_norm(grads, hparams.grad_clip, use_norm=global_norm)
    keep = global_norm < hparams.grad_norm_clip_to_zero   # False for a NaN norm too
    # The "skipped" step still runs Adam with zero gradients, as the original does. A cond,
    # not a select per gradient: only the taken branch writes gradient-sized tensors.
    clipped = tf.cond(keep, lambda: clipped, lambda: [tf.zeros_like(g) for g in clipped])
    return clipped, global_norm


class Trainer(tf.Module):
    """Owns the optimizer and global_step; train_step/eval_step are tf.functions.

    Training goes through the shared engine (magenta_rnn.rnn.engine): MusicVAE gives its
    loss, its clipping rule (global norm, all zeros past grad_norm_clip_to_zero) and its
    Adam update with the decaying learning rate. Build it inside strategy.scope() to
    train on the strategy's replicas.
    """

    def __init__(self, model: MusicVAE, name: str = 'trainer',
                 strategy: tf.distribute.Strategy | None = None):
        super().__init__(name=name)
        self.model = model
        self.hparams = model.hparams
        self.strategy = strategy or tf.distribute.get_strategy()
        self.global_step = tf.Variable(0, dtype=tf.int64, trainable=False, name='global_step')
        self.variables_to_train = list(model.trainable_variables)
        self.optimizer = Adam(self.variables_to_train)
        self._train_fn = None
        self._eval_fn = None

    def _signature(self):
        hp = self.hparams
        b, t = hp.batch_size, hp.max_seq_len
        m = self.model
        return [tf.TensorSpec([b, t, m.input_depth], tf.float32),
                tf.TensorSpec([b, t, m.output_depth], tf.float32),
                tf.TensorSpec([b, *m.length_shape], tf.int32),
                tf.TensorSpec([b, t, m.control_depth], tf.float32)]

    def _loss(self, inputs, outputs, lengths, controls):
        step = self.global_step
        results = self.model.compute_loss(inputs, outputs, lengths, step,
                                          self._controls(controls), training=True)
        scalars = _summaries(results, lr=learning_rate(self.hparams, step))
        return results['loss'], tf.cast(tf.shape(inputs)[0], tf.float32), scalars

    def _clip(self, grads):
        clipped, global_norm = clip_gradients(self.hparams, grads)
        return clipped, {'global_norm': global_norm}

    def _apply(self, grads):
        self.optimizer.apply(grads, self.variables_to_train,
                             learning_rate(self.hparams, self.global_step))
        self.global_step.assign_add(1)

    def _eval(self, inputs, outputs, lengths, controls):
        results = self.model.compute_loss(inputs, outputs, lengths, self.global_step,
                                          self._controls(controls), training=False)
        return _summaries(results)

    def _controls(self, controls):
        return controls if self.model.control_depth else None

    def _batch(self, inputs, outputs, lengths, controls):
        if controls is None:
            controls = tf.zeros([*inputs.shape[:2], 0])
        return inputs, outputs, lengths, controls

    def step(self, inputs, outputs, lengths, controls=None
             ) -> tuple[tf.Tensor, tf.Tensor, dict[str, tf.Tensor]]:
        """(applied, loss, scalars) of one training step on a global batch; a NaN, Inf or
        exploded loss is not applied. controls [batch, time, control_depth] for a model
        with controls."""
        from magenta_rnn.rnn import engine
        if self._train_fn is None:
            self._train_fn = engine.make_train_step(
                self._loss, self.variables_to_train, self._clip, self._apply, self.strategy,
                self._signature(), stats_reduction='mean')
        with self.strategy.scope():
            return self._train_fn(*self._batch(inputs, outputs, lengths, controls))

    def train_step(self, inputs, outputs, lengths, controls=None) -> dict[str, tf.Tensor]:
        return self.step(inputs, outputs, lengths, controls)[2]

    def eval_step(self, inputs, outputs, lengths, controls=None) -> dict[str, tf.Tensor]:
        if self._eval_fn is None:
            self._eval_fn = tf.function(self._eval, input_signature=self._signature())
        return self._eval_fn(*self._batch(inputs, outputs, lengths, controls))


def _summaries(results: dict[str, tf.Tensor], **extra: tf.Tensor) -> dict[str, tf.Tensor]:
    scalars = {name: tf.reduce_mean(value) for name, value in results.items()
               if name not in ('correct_steps', 'valid_steps')}
    scalars['correct_steps'] = results['correct_steps']
    scalars['valid_steps'] = results['valid_steps']
    scalars['metrics/accuracy'] = results['correct_steps'] / tf.maximum(results['valid_steps'], 1.0)
    scalars.update(extra)
    return scalars


def build_model(config, converter) -> MusicVAE:
    """The model a MusicVaeConfig describes, sized by its converter."""
    vae = MusicVAE(config.hparams, converter.input_depth, converter.output_depth,
                   converter.control_depth, encoder=config.encoder.get('type'),
                   decoder=config.decoder.get('type'), decoder_spec=config.decoder,
                   one_hot_input_width=converter.one_hot_input_width,
                   encoder_spec=config.encoder)
    vae.length_shape = tuple(converter.length_shape)
    return vae
