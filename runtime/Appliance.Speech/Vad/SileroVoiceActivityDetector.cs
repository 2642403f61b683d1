using Appliance.Audio;
using Appliance.Inference;
using Microsoft.ML.OnnxRuntime;

namespace Appliance.Speech.Vad;

/// <summary>
/// Silero VAD on ONNX Runtime, 16 kHz, one call per 512-sample (32 ms) window. Both published graph generations are
/// recognised from the session's inputs: v5 (<c>input</c>, <c>state</c> [2, batch, 128], <c>sr</c>; each window is
/// preceded by the last 64 samples of the previous one, so the model sees 576) and v4 (<c>input</c>, <c>sr</c>,
/// <c>h</c>/<c>c</c> [2, batch, 64]; no context). The recurrent state is carried between windows and cleared by
/// <see cref="Reset"/>. The graph is a <see cref="SileroVadModel"/>, shared by any number of detectors; a detector from
/// <see cref="Open"/> owns its model. Dispose the detector.
/// </summary>
public sealed class SileroVoiceActivityDetector : IVoiceActivityDetector
{
    private readonly WindowedDetector _detector;
    private readonly SileroVadModel? _ownedModel;

    internal SileroVoiceActivityDetector(SileroVadModel model, VadOptions options, bool ownsModel)
    {
        _detector = new WindowedDetector(new SileroScorer(model), options);
        ExecutionProvider = model.ExecutionProvider;
        _ownedModel = ownsModel ? model : null;
    }

    /// <inheritdoc/>
    public string Kind => "silero";

    /// <summary>The execution provider the session runs on.</summary>
    public string ExecutionProvider { get; }

    /// <inheritdoc/>
    public long ProcessedSamples => _detector.ProcessedSamples;

    /// <summary>
    /// Loads <paramref name="modelPath"/>. A missing file, a graph that does not load, or one without Silero's inputs and
    /// outputs, or invalid options, come back as the result's error.
    /// </summary>
    public static SpeechResult<SileroVoiceActivityDetector> Open(string modelPath, VadOptions? options = null, InferenceSettings? settings = null)
    {
        options ??= new VadOptions();
        if (options.Validate() is { } problem)
        {
            return SpeechResult.Failure<SileroVoiceActivityDetector>(SpeechErrorCode.InvalidOptions, problem);
        }

        var model = SileroVadModel.Load(modelPath, settings);
        return model.IsSuccess
            ? SpeechResult.Success(new SileroVoiceActivityDetector(model.Value!, options, ownsModel: true))
            : SpeechResult.Failure<SileroVoiceActivityDetector>(model.Error!.Code, model.Error.Message);
    }

    /// <inheritdoc/>
    public IReadOnlyList<VadEvent> Process(ReadOnlySpan<float> samples) => _detector.Process(samples);

    /// <inheritdoc/>
    public IReadOnlyList<VadEvent> Flush() => _detector.Flush();

    /// <inheritdoc/>
    public void Reset() => _detector.Reset();

    /// <inheritdoc/>
    public void Dispose()
    {
        _detector.Dispose();
        _ownedModel?.Dispose();
    }

    /// <summary>Probability of each window, with this detector's own recurrent state; the tensors are bound to managed arrays created once.</summary>
    private sealed class SileroScorer : IWindowScorer
    {
        private const int Window = SileroVadModel.WindowSamples;
        private readonly InferenceSession _session;
        private readonly RunOptions _runOptions = new();
        private readonly int _context;
        private readonly float[] _input;
        private readonly float[][] _states;
        private readonly float[][] _nextStates;
        private readonly float[] _probability = new float[1];
        private readonly List<OrtValue> _values = [];
        private readonly string[] _inputNames;
        private readonly string[] _outputNames;
        private readonly OrtValue[] _inputValues;
        private readonly OrtValue[] _outputValues;

        public SileroScorer(SileroVadModel model)
        {
            _session = model.Session;
            _context = model.Context;
            _input = new float[_context + Window];
            var stateLength = (int)model.StateShape.Aggregate(1L, (a, b) => a * b);
            _states = [.. model.StateInputs.Select(_ => new float[stateLength])];
            _nextStates = [.. model.StateInputs.Select(_ => new float[stateLength])];
            _inputNames = ["input", "sr", .. model.StateInputs];
            _outputNames = ["output", .. model.StateOutputs];
            _inputValues =
            [
                Keep(OrtValue.CreateTensorValueFromMemory(_input, [1, _input.Length])),
                Keep(OrtValue.CreateTensorValueFromMemory(new long[] { SpeechAudio.SampleRate }, [])),
                .. _states.Select(s => Keep(OrtValue.CreateTensorValueFromMemory(s, model.StateShape))),
            ];
            _outputValues =
            [
                Keep(OrtValue.CreateTensorValueFromMemory(_probability, [1, 1])),
                .. _nextStates.Select(s => Keep(OrtValue.CreateTensorValueFromMemory(s, model.StateShape))),
            ];
        }

        public int WindowSamples => Window;

        public float Score(ReadOnlySpan<float> window)
        {
            window.CopyTo(_input.AsSpan(_context));
            _session.Run(_runOptions, _inputNames, _inputValues, _outputNames, _outputValues);
            for (var i = 0; i < _states.Length; i++)
            {
                _nextStates[i].CopyTo(_states[i], 0);
            }

            // The next window's context is the end of this one.
            _input.AsSpan(_input.Length - _context).CopyTo(_input);
            return _probability[0];
        }

        public void Reset()
        {
            Array.Clear(_input);
            foreach (var state in _states)
            {
                Array.Clear(state);
            }
        }

        public void Dispose()
        {
            foreach (var value in _values)
            {
                value.Dispose();
            }

            _runOptions.Dispose();
        }

        private OrtValue Keep(OrtValue value)
        {
            _values.Add(value);
            return value;
        }
    }
}
