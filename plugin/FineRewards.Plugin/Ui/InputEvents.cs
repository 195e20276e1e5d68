namespace FineRewards.Plugin.Ui;

// What the editor forwards from its window since the last frame. Coordinates are logical pixels
// (device pixels divided by the HiDPI scale), relative to the plugin's top-left corner.

public enum PointerButton { Left, Right, Middle }

[Flags]
public enum KeyModifiers { None = 0, Shift = 1, Control = 2, Alt = 4 }

/// <summary>The keys the widgets act on; editors map their own key codes to these and drop the rest.</summary>
public enum Key { Backspace, Delete, Left, Right, Home, End, Enter, Escape, Tab, Up, Down, PageUp, PageDown, A, C, V }

public abstract record InputEvent;

public sealed record PointerMoved(float X, float Y) : InputEvent;

public sealed record PointerPressed(float X, float Y, PointerButton Button = PointerButton.Left) : InputEvent;

public sealed record PointerReleased(float X, float Y, PointerButton Button = PointerButton.Left) : InputEvent;

/// <summary>Positive <paramref name="DeltaY"/> scrolls the content down (the view moves towards the end), in logical pixels.</summary>
public sealed record WheelScrolled(float X, float Y, float DeltaX, float DeltaY) : InputEvent;

public sealed record KeyPressed(Key Key, KeyModifiers Modifiers = KeyModifiers.None) : InputEvent;

/// <summary>Text the user typed (after the editor's keyboard layout and input method).</summary>
public sealed record TextEntered(string Text) : InputEvent;

/// <summary>The pointer left the plugin's area.</summary>
public sealed record PointerLeft : InputEvent;
