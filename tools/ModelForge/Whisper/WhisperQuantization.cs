namespace Appliance.ModelForge.Whisper;

/// <summary>
/// How a forged Whisper stores the weights of its linear layers (attention projections, feed-forward layers and the
/// logits head), as the exports published beside the float32 ones do. The convolutions, layer norms, embeddings and
/// biases stay float32 in every variant.
/// </summary>
public enum WhisperQuantization
{
    /// <summary>Float32 everywhere (<c>MatMul</c>).</summary>
    None,

    /// <summary>
    /// The decoder's linear layers and logits head as 4-bit <c>com.microsoft.MatMulNBits</c> (block 32, symmetric,
    /// float scales); the encoder stays float32. The q4 exports' layout.
    /// </summary>
    DecoderQ4,

    /// <summary>
    /// The linear layers of the encoder and the decoder and the logits head as int8 weights with one scale per tensor,
    /// multiplied by <c>MatMulInteger</c> with the activations quantized to uint8 at run time (<c>DynamicQuantizeLinear</c>):
    /// the int8 exports' layout, as ONNX Runtime's <c>quantize_dynamic</c> writes it.
    /// </summary>
    DynamicInt8,
}
