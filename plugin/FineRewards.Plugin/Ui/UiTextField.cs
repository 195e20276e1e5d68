using System.Text;
using SkiaSharp;

namespace FineRewards.Plugin.Ui;

public sealed partial class Ui
{
    static readonly TimeSpan CaretBlink = TimeSpan.FromMilliseconds(530);
    readonly Dictionary<string, TimeSpan> lastEdit = new();

    /// <summary>
    /// A single-line text field: click to focus (the caret goes to the nearest character), type, Backspace,
    /// Delete, Left/Right, Home/End; Enter sets <see cref="Submitted"/>. Long text scrolls to keep the caret visible.
    /// </summary>
    /// <param name="accept">Which typed characters are kept (e.g. digits for a seed); null keeps all.</param>
    /// <returns>True when the text changed.</returns>
    public bool TextField(string id, ref string text, string placeholder = "", Func<char, bool>? accept = null, int maxLength = 1000, float width = 0, bool enabled = true)
    {
        var r = Allocate(width, Theme.RowHeight);
        var i = Interact(id, r, enabled);
        if (i.Hovered && enabled) SetCursor(CursorKind.IBeam);
        if (enabled) focusOrder.Add(id);
        bool hasFocus = focused == id && enabled;
        int caret = Math.Clamp(carets.GetValueOrDefault(id, text.Length), 0, text.Length);
        var inner = new SKRect(r.Left + 6, r.Top, r.Right - 6, r.Bottom);
        float scrollX = Math.Max(0, Font.MeasureText(text.AsSpan(0, caret)) - inner.Width + 2);

        if (i.Pressed && enabled)
        {
            Focus(id);
            hasFocus = true;
            caret = CaretAt(text, pressAt.X - inner.Left + scrollX);
            lastEdit[id] = Time;
        }

        string before = text;
        if (hasFocus)
        {
            var sb = new StringBuilder(text);
            foreach (var e in keyboard)
            {
                switch (e)
                {
                    case TextEntered t:
                        foreach (char c in t.Text)
                        {
                            if (char.IsControl(c) || (accept is not null && !accept(c)) || sb.Length >= maxLength) continue;
                            sb.Insert(caret++, c);
                        }
                        break;
                    case KeyPressed { Key: Key.Backspace }:
                        if (caret > 0) sb.Remove(--caret, 1);
                        break;
                    case KeyPressed { Key: Key.Delete }:
                        if (caret < sb.Length) sb.Remove(caret, 1);
                        break;
                    case KeyPressed { Key: Key.Left }: caret = Math.Max(0, caret - 1); break;
                    case KeyPressed { Key: Key.Right }: caret = Math.Min(sb.Length, caret + 1); break;
                    case KeyPressed { Key: Key.Home }: caret = 0; break;
                    case KeyPressed { Key: Key.End }: caret = sb.Length; break;
                    case KeyPressed { Key: Key.A, Modifiers: KeyModifiers.Control }: caret = sb.Length; break;
                    case KeyPressed { Key: Key.Enter }: submitted = id; break;
                    case KeyPressed { Key: Key.Escape }: focused = null; break;
                }
            }
            text = sb.ToString();
            if (keyboard.Count > 0) lastEdit[id] = Time;
        }
        carets[id] = caret;

        FillRect(r, hasFocus ? Theme.Background : Theme.Widget, Theme.Corner);
        StrokeRect(r, hasFocus ? Theme.Accent : i.Hovered ? Theme.WidgetHot : Theme.PanelBorder, 1, Theme.Corner);
        PushClip(inner);
        scrollX = Math.Max(0, Font.MeasureText(text.AsSpan(0, caret)) - inner.Width + 2);
        float baseline = r.MidY + Font.Size * 0.36f;
        if (text.Length == 0 && !hasFocus) DrawText(placeholder, inner.Left, baseline, Theme.Disabled);
        else DrawText(text, inner.Left - scrollX, baseline, enabled ? Theme.Text : Theme.Disabled);
        if (hasFocus)
        {
            var sinceEdit = Time - lastEdit.GetValueOrDefault(id, Time);
            long phase = (long)(sinceEdit.Ticks / CaretBlink.Ticks);
            if (phase % 2 == 0)
            {
                float cx = inner.Left - scrollX + Font.MeasureText(text.AsSpan(0, caret));
                FillRect(new SKRect(cx, r.Top + 5, cx + 1.5f, r.Bottom - 5), Theme.Text);
            }
            RepaintWithin(TimeSpan.FromTicks(CaretBlink.Ticks - sinceEdit.Ticks % CaretBlink.Ticks));
        }
        PopClip();
        return text != before;
    }

    int CaretAt(string text, float x)
    {
        int best = 0;
        float bestDistance = float.MaxValue;
        for (int k = 0; k <= text.Length; k++)
        {
            float d = Math.Abs(Font.MeasureText(text.AsSpan(0, k)) - x);
            if (d < bestDistance) { bestDistance = d; best = k; }
        }
        return best;
    }

    /// <summary>Moves the caret of a text field (e.g. to the end after the text was set from outside).</summary>
    public void SetCaret(string id, int position) => carets[id] = position;
}
